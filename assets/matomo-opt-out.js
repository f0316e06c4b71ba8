// spurlos's answer to Matomo's optOutJS: renders an opt-out checkbox into the customer's page
// (into the element named by `divId`) and keeps the choice in Matomo's first-party opt-out
// cookie `mtm_consent_removed`, which spurlos's matomo.js honours. The server puts the texts
// and the target element's id into SPURLOS_OPTOUT before this script.
(function (c) {
  function draw() {
    var box = document.getElementById(c.divId);
    if (!box) return;
    var out = ('; ' + document.cookie).indexOf('; mtm_consent_removed=') >= 0;
    box.textContent = '';
    var p = document.createElement('p');
    p.textContent = out ? c.optedOut : c.counted;
    var label = document.createElement('label');
    var input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = !out;
    input.addEventListener('change', function () {
      var secure = location.protocol == 'https:' ? '; Secure' : '';
      document.cookie = input.checked
        ? 'mtm_consent_removed=; path=/; max-age=0; SameSite=Lax' + secure
        : 'mtm_consent_removed=' + Date.now() + '; path=/; max-age=' + 400 * 86400 + '; SameSite=Lax' + secure;
      draw();
    });
    label.appendChild(input);
    label.appendChild(document.createTextNode(' ' + (out ? c.checkboxOut : c.checkboxIn)));
    box.appendChild(p);
    box.appendChild(label);
  }
  if (document.readyState == 'loading') document.addEventListener('DOMContentLoaded', draw);
  else draw();
})(window.SPURLOS_OPTOUT);
