/* The alerts inbox, live: fetch the list every few seconds and swap it in, unless someone is
   typing a reply or choosing whom to assign (their words are never thrown away). The page
   works without this file: reload it to see new alerts. */
(function () {
  "use strict";
  var list = document.getElementById("alert-list");
  if (!list || !window.fetch) {
    return;
  }
  var url = list.getAttribute("data-fragment");
  var seconds = parseInt(list.getAttribute("data-seconds"), 10) || 5;

  function busy() {
    var active = document.activeElement;
    if (active && list.contains(active) && active.tagName !== "BUTTON" && active.tagName !== "A") {
      return true;
    }
    var fields = list.querySelectorAll("textarea");
    for (var i = 0; i < fields.length; i += 1) {
      if (fields[i].value.trim() !== "") {
        return true;
      }
    }
    return false;
  }

  function later() {
    window.setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    if (document.hidden || busy()) {
      later();
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          return null; /* signed out or gone: stop; a reload shows why */
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        if (!busy()) {
          list.innerHTML = html;
        }
        later();
      })
      .catch(later);
  }

  later();
})();
