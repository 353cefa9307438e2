// A background job's page (orgs/jobs/detail.html): ask for its progress every 2 s and move the
// bar; when the job is done or has failed, load the page again, which then shows the download
// link or the error messages and polls no more. Without script the page refreshes itself.
(function () {
  var box = document.getElementById("job");
  var url = box && box.getAttribute("data-status-url");
  if (!url) { return; }
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-text");
  var state = document.getElementById("job-state");
  var misses = 0;
  var poll = function () {
    window.fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (status) {
        misses = 0;
        bar.value = status.percent;
        bar.textContent = status.percent + "%";
        text.textContent = status.text;
        state.textContent = status.label;
        if (status.finished) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 2000);
      })
      .catch(function () {
        misses += 1;
        if (misses < 5) {
          window.setTimeout(poll, 2000 * misses);
        } else {
          text.textContent = "暂时无法获取进度，请点“刷新”。";
        }
      });
  };
  window.setTimeout(poll, 2000);
})();
