using System.ComponentModel;

namespace Floodgate;

/// <summary>
/// A shared store for the ASP.NET Core adapter's endpoint policies (Floodgate.Redis registers one as a service; the
/// interface lives in the engine so that Floodgate.Redis does not depend on the adapter): when present, every policy
/// is checked against the store, and the in-process limiter of each policy becomes its local table (known bans, fallback).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IFloodgateRemoteStore : IFloodgateSharedStore<IFloodgateRemoteLimiter>;
