// Loaded after require.js and before the widget manager (embed-amd.js): tell require.js where the manager lives.
// The manager computes the address of its icon fonts from its module's address; without this mapping that is
// the page's own folder (book/@jupyter-widgets/html-manager/dist/...), which does not exist (404s on every page
// with an explorer). Mapped here, the fonts load from the copy the site serves in _static/vendor/html-manager/.
(function () {
  if (typeof window.require === "undefined" || typeof window.require.config !== "function") { return; }
  var root = document.documentElement.getAttribute("data-content_root") || "./";
  var manager = new URL(root + "_static/vendor/html-manager", document.baseURI).href;
  window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": manager } });
})();
