// spurlos tracker: page views (also in single-page apps and, with data-hash, hash routing),
// custom events, outbound-link and file-download clicks, and a 404 helper. It sets no cookie,
// stores nothing in the browser and stays silent when the browser asks not to be tracked.
(function (w, d) {
  var n = w.navigator, loc = w.location, script = d.currentScript;
  var attr = function (a) { return script && script.getAttribute(a); };
  var api = attr('data-api') || new URL('/api/event', script ? script.src : loc.href).href;
  var domain = attr('data-domain') || loc.hostname;
  var hashMode = attr('data-hash') !== null;
  var silent = n.globalPrivacyControl || n.doNotTrack == '1' || w.doNotTrack == '1';
  var lastUrl;

  function send(name, opts) {
    opts = opts || {};
    var cb = opts.callback;
    if (silent) { return cb && cb(); }
    var body = JSON.stringify({
      n: name,
      u: opts.u || loc.href,
      d: domain,
      r: d.referrer || null,
      w: w.innerWidth,
      h: hashMode ? 1 : 0,
      i: opts.interactive !== false,
      p: opts.props
    });
    if (n.sendBeacon && n.sendBeacon(api, new Blob([body], { type: 'text/plain' }))) {
      return cb && cb();
    }
    fetch(api, { method: 'POST', body: body, keepalive: true, credentials: 'include', headers: { 'Content-Type': 'text/plain' } })
      .then(function () { cb && cb(); }, function () { cb && cb(); });
  }

  function page() {
    var url = hashMode ? loc.href : loc.href.split('#')[0];
    if (url === lastUrl) { return; }
    lastUrl = url;
    send('pageview');
  }

  var api_fn = function (name, opts) {
    if (name === '404') {
      opts = opts || {};
      opts.props = opts.props || {};
      opts.props.path = loc.pathname;
    }
    send(name, opts);
  };
  var queued = (w.spurlos && w.spurlos.q) || [];
  w.spurlos = api_fn;
  for (var i = 0; i < queued.length; i++) { api_fn.apply(null, queued[i]); }

  var hist = w.history;
  if (hist.pushState) {
    var push = hist.pushState;
    hist.pushState = function () { push.apply(this, arguments); page(); };
    w.addEventListener('popstate', page);
  }
  if (hashMode) { w.addEventListener('hashchange', page); }

  var files = /\.(pdf|xlsx?|docx?|pptx?|csv|txt|zip|rar|7z|t?gz|dmg|exe|msi|deb|rpm|apk|iso|epub|mp[34]|mov|wav)$/i;
  d.addEventListener('click', function (e) {
    var a = e.target && e.target.closest && e.target.closest('a[href]');
    if (!a) { return; }
    var url;
    try { url = new URL(a.href, loc.href); } catch (err) { return; }
    var name = files.test(url.pathname) ? 'File Download' : url.host && url.host !== loc.host && /^https?:$/.test(url.protocol) ? 'Outbound Link: Click' : '';
    if (!name) { return; }
    // sendBeacon and keepalive fetches survive the navigation that follows the click.
    send(name, { props: { url: url.href.split('?')[0] } });
  });

  page();
})(window, document);
