// Live parts of the broadcast pages; each page works without this script.
// The composer shows how many patients the chosen audience has as it changes; a broadcast
// being sent has its progress section fetched again every few seconds until it is final.
(function () {
  "use strict";

  function showCount(form) {
    var out = form.querySelector("output");
    if (!out) { return; }
    var query = new URLSearchParams();
    ["audience", "phase", "days", "lang"].forEach(function (name) {
      var field = form.querySelector('[name="' + name + '"]:checked') ||
        form.querySelector('select[name="' + name + '"], input[name="' + name + '"]:not([type="radio"])');
      if (field) { query.set(name, field.value); }
    });
    fetch(form.dataset.countUrl + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (found) {
        out.textContent = found.error ? found.error :
          found.count + (found.count === 1 ? " patient: " : " patients: ") + found.words;
      })
      .catch(function () { out.textContent = ""; });
  }

  document.querySelectorAll("form[data-count-url]").forEach(function (form) {
    form.addEventListener("change", function () { showCount(form); });
    form.addEventListener("input", function (event) {
      if (event.target.name === "days") { showCount(form); }
    });
    showCount(form);
  });

  function poll(section) {
    if (section.dataset.final === "1") { return; }
    var wait = 1000 * (parseInt(section.dataset.poll, 10) || 2);
    window.setTimeout(function () {
      fetch(section.dataset.progressUrl, { credentials: "same-origin" })
        .then(function (answer) {
          if (!answer.ok) { throw new Error(String(answer.status)); }
          return answer.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#progress");
          if (!fresh) { return; }
          section.replaceWith(fresh);
          poll(fresh);
        })
        .catch(function () { poll(section); });
    }, wait);
  }

  var progress = document.getElementById("progress");
  if (progress) { poll(progress); }
})();
