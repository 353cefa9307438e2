// Ask before an irreversible step: any submit button with data-confirm.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// The voting page: read the slip's code QR with the camera where the browser can (the code never
// travels in an address), and say how many subjects are left blank before the sheet is sent.
(function () {
  var field = document.getElementById("vote-code");
  var box = document.getElementById("code-scanner");
  if (field && box && "BarcodeDetector" in window && navigator.mediaDevices) {
    box.hidden = false;
    document.getElementById("scan-start").addEventListener("click", function () {
      var video = document.getElementById("scan-video");
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
        var look = function () {
          detector.detect(video).then(function (found) {
            var text = found.length ? found[0].rawValue : "";
            if (/^[0-9]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(text)) {
              field.value = text;
              stop();
              field.form.submit();
            } else {
              window.setTimeout(look, 250);
            }
          }, function () { window.setTimeout(look, 500); });
        };
        look();
      }, function () { box.insertAdjacentHTML("beforeend", "<p class=\"error\">无法使用摄像头，请手工输入选票码。</p>"); });
    });
  }
  var sheet = document.getElementById("ballot-sheet");
  if (sheet) {
    var button = sheet.querySelector("[data-confirm]");
    sheet.addEventListener("click", function (event) {
      if (event.target !== button) { return; }
      var blank = 0;
      sheet.querySelectorAll("fieldset.grades").forEach(function (set) {
        var chosen = set.querySelector("input:checked");
        if (!chosen || chosen.value === "0") { blank += 1; }
      });
      button.setAttribute("data-confirm", (blank ? "有 " + blank + " 个对象未评价，将按弃权计。" : "") +
        "提交后不能修改，确定提交评议表吗？");
    }, true);
  }
})();

// Phones show a wide table as cards (site.css): label every cell with its column's header.
(function () {
  document.querySelectorAll(".table-wrap table").forEach(function (table) {
    var headRows = table.tHead ? table.tHead.rows : [];
    if (!headRows.length) { return; }
    var labels = [];
    Array.prototype.forEach.call(headRows[headRows.length - 1].cells, function (th) {
      var text = th.textContent.trim();
      for (var i = 0; i < (th.colSpan || 1); i += 1) { labels.push(th.colSpan > 1 ? "" : text); }
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var label = cell.colSpan > 1 ? "" : labels[column];
          if (label && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", label); }
          column += cell.colSpan || 1;
        });
      });
    });
  });
})();
