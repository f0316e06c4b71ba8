// spurlos opt-out page: toggles the opt-out cookie through POST /opt-out and updates the text.
(function () {
  var box = document.getElementById('spurlos-optout');
  var button = document.getElementById('spurlos-toggle');
  var status = document.getElementById('spurlos-status');
  function render(out) {
    box.setAttribute('data-opted-out', out ? '1' : '0');
    status.textContent = box.getAttribute(out ? 'data-text-out' : 'data-text-in');
    button.textContent = box.getAttribute(out ? 'data-button-out' : 'data-button-in');
  }
  button.addEventListener('click', function () {
    var out = box.getAttribute('data-opted-out') !== '1';
    button.disabled = true;
    fetch(location.pathname, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'action=' + (out ? 'out' : 'in')
    }).then(function (r) { return r.json(); }).then(function (j) {
      render(j.opted_out);
    }).finally(function () { button.disabled = false; });
  });
})();
