/* Tjänsteguiden: progressive enhancement only. Every page works without this file.
 *
 * 1. A page with errors moves focus to the error summary; its links focus the field.
 * 2. The address field becomes an ARIA 1.2 combobox with suggestions from
 *    GET /api/guide/addresses?q=TEXT. If that request fails, the suggestions stay closed and
 *    the plain search form works as before.
 */
(function () {
  "use strict";

  // --- 1. Errors ----------------------------------------------------------------------------

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      var field = target.closest(".field, .fieldset, .panel") || target;
      field.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
  }

  // --- 2. Address suggestions ---------------------------------------------------------------

  var input = document.getElementById("q");
  var listbox = document.getElementById("q-listbox");
  var status = document.getElementById("q-status");
  if (!input || !listbox || !window.fetch || !window.Promise) return;

  var endpoint = input.getAttribute("data-suggest-url");
  var countText = input.getAttribute("data-suggest-count") || "{n}";
  var noneText = input.getAttribute("data-suggest-none") || "";
  var premiseText = input.getAttribute("data-premise") || "{p}";
  var MIN_CHARS = 2;
  var DELAY_MS = 200;
  var MAX_ITEMS = 20;

  var items = [];
  var active = -1;
  var latest = 0; // only the answer to the newest request is shown
  var timer = null;
  var announceTimer = null;

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("autocomplete", "off");

  function announce(text) {
    if (!status) return;
    clearTimeout(announceTimer);
    // A pause lets screen readers announce the change after the user stops typing.
    announceTimer = setTimeout(function () {
      status.textContent = text;
    }, 400);
  }

  function isOpen() {
    return !listbox.hidden;
  }

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function open() {
    if (!items.length) return;
    listbox.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function labelOf(item) {
    var text = item.address;
    if (item.premise) text += ", " + premiseText.replace("{p}", item.premise);
    return text;
  }

  function hrefOf(item) {
    return (
      "/access/" + encodeURIComponent(item.coid) + "/" + encodeURIComponent(item.accessId) +
      "?adress=" + encodeURIComponent(item.address)
    );
  }

  function isMatch(item) {
    return (
      item !== null && typeof item === "object" &&
      typeof item.coid === "string" && typeof item.accessId === "string" &&
      typeof item.address === "string"
    );
  }

  function setActive(index) {
    var options = listbox.children;
    if (!options.length) return;
    if (index < 0) index = options.length - 1;
    if (index >= options.length) index = 0;
    active = index;
    for (var i = 0; i < options.length; i++) {
      options[i].setAttribute("aria-selected", i === index ? "true" : "false");
    }
    input.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView({ block: "nearest" });
  }

  function choose(index) {
    var item = items[index];
    if (!item) return;
    input.value = labelOf(item);
    close();
    window.location.assign(hrefOf(item));
  }

  function show(found) {
    items = found.filter(isMatch).slice(0, MAX_ITEMS);
    listbox.textContent = "";
    items.forEach(function (item, i) {
      var option = document.createElement("li");
      option.id = "q-option-" + i;
      option.className = "combobox__option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.textContent = labelOf(item); // text, never markup
      listbox.appendChild(option);
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (items.length) {
      open();
      announce(countText.replace("{n}", String(items.length)));
    } else {
      close();
      announce(noneText);
    }
  }

  function forget() {
    items = [];
    listbox.textContent = "";
    close();
  }

  function suggest() {
    var q = input.value.trim();
    var mine = ++latest;
    if (q.length < MIN_CHARS || q.length > 200) {
      forget();
      return;
    }
    fetch(endpoint + "?q=" + encodeURIComponent(q), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (found) {
        if (mine !== latest || document.activeElement !== input) return;
        if (!Array.isArray(found)) throw new Error("unexpected answer");
        show(found);
      })
      .catch(function () {
        // Suggestions are a convenience: on any failure the plain search form remains.
        if (mine === latest) forget();
      });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, DELAY_MS);
  });

  input.addEventListener("keydown", function (event) {
    if (event.altKey && event.key === "ArrowDown") {
      if (items.length) {
        event.preventDefault();
        open();
      }
      return;
    }
    switch (event.key) {
      case "ArrowDown":
        if (!items.length) return;
        event.preventDefault();
        open();
        setActive(active + 1);
        break;
      case "ArrowUp":
        if (!items.length) return;
        event.preventDefault();
        open();
        setActive(active < 0 ? items.length - 1 : active - 1);
        break;
      case "Enter":
        if (isOpen() && active >= 0) {
          event.preventDefault();
          choose(active);
        }
        break; // otherwise the form is submitted: the search without suggestions
      case "Escape":
        if (isOpen()) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
          forget();
        }
        break;
      case "Tab":
        close();
        break;
    }
  });

  // Pointer: keep focus in the field while choosing.
  listbox.addEventListener("mousedown", function (event) {
    event.preventDefault();
  });
  listbox.addEventListener("click", function (event) {
    var option = event.target.closest("[role='option']");
    if (option) choose(Array.prototype.indexOf.call(listbox.children, option));
  });

  input.addEventListener("blur", function () {
    close();
  });
  input.addEventListener("focus", function () {
    if (items.length && input.value.trim().length >= MIN_CHARS) open();
  });
})();
