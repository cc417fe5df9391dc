// Loaded after require.js and before the widget manager (embed-amd.js): tell require.js where the manager lives.
// The manager computes the address of its icon fonts from its module's address; without this mapping that is
// the page's own folder (book/@jupyter-widgets/html-manager/dist/...), which does not exist (404s on every page
// with an explorer). Mapped here, the fonts load from the copy the site serves in _static/vendor/html-manager/.
(function () {
  if (typeof window.require === "undefined" || typeof window.require.config !== "function") { return; }
  var root = document.documentElement.getAttribute("data-content_root") || "./";
  var manager = new URL(root + "_static/vendor/html-manager", document.baseURI).href;
  // The widgets' own modules (defined inside embed-amd.js) compute their icon fonts' address the same way; their
  // FontAwesome 4 icons were drawn as SVG by the theme's FontAwesome script before the site stopped loading it.
  var paths = { "@jupyter-widgets/html-manager/dist": manager };
  ["html-manager", "base", "base7", "controls", "controls7", "output"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = manager + "/" + name;
  });
  window.require.config({ paths: paths });
})();
