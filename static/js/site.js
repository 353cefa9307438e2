// Ask before an irreversible step: any submit button with data-confirm.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// A scanned voting slip carries its code after "#", which never reaches the server: move it into
// the code field and drop it from the address bar and the history.
(function () {
  var field = document.getElementById("vote-code");
  var match = window.location.hash.match(/^#c=([0-9A-Za-z-]+)$/);
  if (field && match) {
    field.value = match[1];
    window.history.replaceState(null, "", window.location.pathname);
  }
})();
