// spurlos's tracker for existing Matomo (Piwik) snippets, served as /matomo.js and /piwik.js.
// It reads Matomo's `_paq` command queue and sends Matomo tracking requests to spurlos.
// Written for spurlos (not Matomo's file). It never sets a tracking cookie: the only cookie it
// writes is Matomo's opt-out cookie `mtm_consent_removed`, on the customer's own site.
(function (w, d) {
  var OPTOUT = 'mtm_consent_removed';
  var DOWNLOAD = /\.(7z|aac|apk|avi|bz2|csv|dmg|docx?|epub|exe|flac|gz|iso|jar|mp3|mp4|mov|msi|odt|ogg|pdf|pptx?|rar|rtf|tar|tgz|txt|wav|webm|xlsx?|xml|zip)$/i;
  var loc = w.location;
  var tracker = '';
  var site = '';
  var customUrl = '';
  var title = '';
  var referrer = d.referrer;
  var dims = {};
  var needConsent = false;
  var consent = false;
  var links = false;
  var beat = 0;
  var last = 0;
  var pv = '';

  function hasCookie(name) {
    return ('; ' + d.cookie).indexOf('; ' + name + '=') >= 0;
  }

  function cookie(name, value, days) {
    d.cookie = name + '=' + value + '; path=/; max-age=' + days * 86400 + '; SameSite=Lax' +
      (loc.protocol == 'https:' ? '; Secure' : '');
  }

  function absolute(u) {
    try {
      return new URL(u, loc.href).href;
    } catch (e) {
      return u;
    }
  }

  function send(params) {
    if (!tracker || !site || hasCookie(OPTOUT) || (needConsent && !consent)) return;
    params.idsite = site;
    params.rec = 1;
    params.url = customUrl || loc.href;
    params.urlref = referrer;
    params.res = screen.width + 'x' + screen.height;
    params.pv_id = pv;
    params.send_image = 0;
    for (var id in dims) params['dimension' + id] = dims[id];
    var query = [];
    for (var k in params) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== '') {
        query.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
      }
    }
    var url = tracker + (tracker.indexOf('?') < 0 ? '?' : '&') + query.join('&');
    last = Date.now();
    if (!(navigator.sendBeacon && navigator.sendBeacon(url))) {
      fetch(url, { method: 'POST', keepalive: true, credentials: 'include' }).catch(function () {});
    }
  }

  function noop() {}

  var api = {
    setTrackerUrl: function (u) {
      tracker = absolute(u);
    },
    setSiteId: function (id) {
      site = id;
    },
    getSiteId: function () {
      return site;
    },
    getTrackerUrl: function () {
      return tracker;
    },
    setCustomUrl: function (u) {
      customUrl = absolute(u);
    },
    setDocumentTitle: function (t) {
      title = t;
    },
    setReferrerUrl: function (u) {
      referrer = u;
    },
    setCustomDimension: function (id, value) {
      dims[id] = value;
    },
    deleteCustomDimension: function (id) {
      delete dims[id];
    },
    getCustomDimension: function (id) {
      return dims[id];
    },
    trackPageView: function (t) {
      pv = Math.random().toString(36).slice(2, 8);
      send({ action_name: t || title || d.title });
    },
    trackEvent: function (category, action, name, value) {
      send({ e_c: category, e_a: action, e_n: name, e_v: value });
    },
    trackSiteSearch: function (keyword, category, count) {
      send({ search: keyword, search_cat: category, search_count: count });
    },
    trackGoal: function (id, revenue) {
      send({ idgoal: id, revenue: revenue });
    },
    trackLink: function (url, type) {
      var p = {};
      p[type == 'download' ? 'download' : 'link'] = absolute(url);
      send(p);
    },
    enableLinkTracking: function (on) {
      links = on !== false;
    },
    enableHeartBeatTimer: function (seconds) {
      beat = Math.max(seconds || 15, 5) * 1000;
    },
    // There are no tracking cookies to disable or to ask consent for.
    disableCookies: noop,
    requireCookieConsent: noop,
    setCookieConsentGiven: noop,
    rememberCookieConsentGiven: noop,
    forgetCookieConsentGiven: noop,
    requireConsent: function () {
      needConsent = true;
    },
    // Consent is kept for this page only: spurlos sets no consent cookie.
    setConsentGiven: function () {
      consent = true;
    },
    rememberConsentGiven: function () {
      consent = true;
    },
    forgetConsentGiven: function () {
      consent = false;
      cookie(OPTOUT, Date.now(), 400);
    },
    optUserOut: function () {
      cookie(OPTOUT, Date.now(), 400);
    },
    forgetUserOptOut: function () {
      cookie(OPTOUT, '', 0);
    },
    isUserOptedOut: function () {
      return hasCookie(OPTOUT);
    },
  };

  function run(cmd) {
    try {
      if (typeof cmd == 'function') return cmd.call(api);
      var f = cmd && (typeof cmd[0] == 'function' ? cmd[0] : api[cmd[0]]);
      if (typeof f == 'function') return f.apply(api, [].slice.call(cmd, 1));
    } catch (e) {}
  }

  // Like Matomo: configuration first, then everything else in order.
  var FIRST = /^(setTrackerUrl|setSiteId|disableCookies|requireConsent|requireCookieConsent|setConsentGiven|enableLinkTracking)$/;
  var queued = w._paq || [];
  var i;
  for (i = 0; i < queued.length; i++) if (queued[i] && FIRST.test(queued[i][0])) run(queued[i]);
  for (i = 0; i < queued.length; i++) if (!(queued[i] && FIRST.test(queued[i][0]))) run(queued[i]);
  w._paq = {
    push: function () {
      for (var j = 0; j < arguments.length; j++) run(arguments[j]);
      return 0;
    },
  };

  d.addEventListener(
    'click',
    function (e) {
      var a = links && e.target.closest && e.target.closest('a[href]');
      if (!a || !/^https?:$/.test(a.protocol)) return;
      if (a.hasAttribute('download') || DOWNLOAD.test(a.pathname)) api.trackLink(a.href, 'download');
      else if (a.host != loc.host) api.trackLink(a.href, 'link');
    },
    true,
  );

  // Heartbeat: when the visitor leaves the page (or comes back to it) after at least the
  // configured time, a ping extends the visit.
  function ping() {
    if (beat && pv && Date.now() - last >= beat) send({ ping: 1 });
  }
  d.addEventListener('visibilitychange', ping);
  w.addEventListener('pagehide', ping);
  w.addEventListener('focus', ping);
})(window, document);
