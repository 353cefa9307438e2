// A button marked data-print prints the page (the notice board); no inline handler, so the
// site's Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
