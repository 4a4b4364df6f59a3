namespace Floodgate.Bench;

/// <summary>
/// A worker thread kept for the whole benchmark, so the 2-thread runs measure the checks and not thread start-up.
/// </summary>
internal sealed class SecondThread : IDisposable
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _start = new(false, spinCount: 2_047);
    private readonly ManualResetEventSlim _done = new(false, spinCount: 2_047);
    private Func<int>? _work;
    private int _result;
    private volatile bool _stopping;

    public SecondThread()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "bench-second" };
        _thread.Start();
    }

    public void Start(Func<int> work)
    {
        _work = work;
        _done.Reset();
        _start.Set();
    }

    public int Wait()
    {
        _done.Wait();
        return _result;
    }

    public void Dispose()
    {
        _stopping = true;
        _start.Set();
        _thread.Join();
        _start.Dispose();
        _done.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            _start.Wait();
            _start.Reset();
            if (_stopping)
            {
                return;
            }

            _result = _work!();
            _done.Set();
        }
    }
}
