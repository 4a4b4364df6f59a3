using System.Net;

namespace Floodgate.AspNetCore.Challenge;

/// <summary>
/// The challenge part of the HTML rejection page: the token in data attributes, a progress line, and a short script
/// that solves it in a Web Worker with WebCrypto SHA-256, posts the answer and reloads the page the person asked
/// for. Without JavaScript (or WebCrypto, or workers) the page stays what it was: the explanation of the limit.
/// </summary>
internal static class ChallengePage
{
    // The worker tries counters 0, 1, 2, ... until SHA-256("token:counter") starts with `bits` zero bits, reporting
    // progress every 2,048 tries. The page posts the answer (a form, same origin) and, when it is accepted, loads
    // the page again with GET (replace: the rejection does not stay in the history).
    private const string Script = """
        (function () {
          var box = document.getElementById('floodgate-challenge');
          if (!box || !window.Worker || !window.crypto || !crypto.subtle || !window.fetch) return;
          var status = document.getElementById('floodgate-challenge-status');
          var token = box.getAttribute('data-token'), bits = +box.getAttribute('data-difficulty'), path = box.getAttribute('data-path');
          var expected = Math.pow(2, bits);
          var worker = new Worker(URL.createObjectURL(new Blob([
            "onmessage = async function (e) {" +
            "  var token = e.data.token, bits = e.data.bits, encoder = new TextEncoder();" +
            "  for (var n = 0; ; n++) {" +
            "    var h = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token + ':' + n)));" +
            "    var zeros = 0;" +
            "    for (var i = 0; i < h.length; i++) { if (h[i] === 0) { zeros += 8; continue; } zeros += Math.clz32(h[i]) - 24; break; }" +
            "    if (zeros >= bits) { postMessage({ answer: n }); return; }" +
            "    if ((n & 2047) === 0) postMessage({ tried: n });" +
            "  }" +
            "};"], { type: 'text/javascript' })));
          box.hidden = false;
          worker.onmessage = function (e) {
            if (e.data.tried !== undefined) {
              status.textContent = 'Checking that you are a person: ' + Math.min(99, Math.round(100 * e.data.tried / expected)) + '%';
              return;
            }
            status.textContent = 'Done. Continuing…';
            fetch(path, { method: 'POST', credentials: 'same-origin', body: new URLSearchParams({ token: token, answer: String(e.data.answer) }) })
              .then(function (r) {
                if (r.ok) { location.replace(location.href); }
                else { status.textContent = 'That did not work this time; please wait and try again later.'; }
              })
              .catch(function () { status.textContent = 'That did not work this time; please wait and try again later.'; });
          };
          worker.postMessage({ token: token, bits: bits });
        })();
        """;

    public static string Markup(string token, int difficulty, string path) => $$"""
        <div id="floodgate-challenge" hidden data-token="{{token}}" data-difficulty="{{difficulty}}" data-path="{{WebUtility.HtmlEncode(path)}}">
        <p>If you are a person, you do not have to wait: your browser can do a short piece of work to prove it (a few seconds, nothing to click).</p>
        <p id="floodgate-challenge-status" role="status" aria-live="polite">Checking that you are a person…</p>
        </div>
        <script>{{Script}}</script>
        """;
}
