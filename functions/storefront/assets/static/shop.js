// Progressive enhancement only: every form works without this script.
// Lists marked data-autosubmit (the currency switcher) submit when changed,
// so their "Change" button is hidden.
document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
  select.addEventListener("change", function () {
    select.form.submit();
  });
  select.form.querySelectorAll(".js-hidden").forEach(function (button) {
    button.hidden = true;
  });
});

// The header's search box suggests up to five products as the shopper
// types, from the shop's own search API (same origin, so the page's
// Content-Security-Policy allows it). Each suggestion links to its product;
// the last one opens all the results. Names are set as text, never markup.
(function () {
  var input = document.getElementById("search-q");
  var list = document.getElementById("search-suggestions");
  if (!input || !list) {
    return;
  }
  var timer = null;
  var asked = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
  }

  function suggestion(href, text, className) {
    var item = document.createElement("li");
    item.setAttribute("role", "option");
    var link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    if (className) {
      link.className = className;
    }
    item.appendChild(link);
    return item;
  }

  function show(words, products) {
    list.replaceChildren();
    products.slice(0, 5).forEach(function (product) {
      list.appendChild(suggestion("/product/" + encodeURIComponent(product.id), product.name));
    });
    var all = "/search?" + new URLSearchParams({ q: words });
    list.appendChild(suggestion(all, "All results for \u201c" + words + "\u201d", "all-results"));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    var words = input.value.trim();
    if (words.length < 2) {
      close();
      return;
    }
    // Wait for a pause in typing; only the latest answer is shown.
    timer = setTimeout(function () {
      var mine = ++asked;
      var url = "/api/products/search?" + new URLSearchParams({ q: words, limit: "5" });
      fetch(url, { headers: { accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : [];
        })
        .then(function (products) {
          if (mine !== asked || input.value.trim() !== words) {
            return;
          }
          if (Array.isArray(products) && products.length > 0) {
            show(words, products);
          } else {
            close();
          }
        })
        .catch(close);
    }, 150);
  });

  // Arrow keys move between the box and the suggestions; Escape closes them.
  function move(from, step) {
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    var at = links.indexOf(from) + step;
    if (at < 0) {
      input.focus();
    } else if (at < links.length) {
      links[at].focus();
    }
  }
  input.form.addEventListener("keydown", function (event) {
    if (list.hidden) {
      return;
    }
    if (event.key === "Escape") {
      close();
      input.focus();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(document.activeElement, event.key === "ArrowDown" ? 1 : -1);
    }
  });
  document.addEventListener("click", function (event) {
    if (!input.form.contains(event.target)) {
      close();
    }
  });
})();
