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
