// Loads the Jupyter widget manager (3.6 MB, _static/vendor/html-manager/embed-amd.js) only when a reader comes near
// an interactive explorer, instead of on every visit to a page that has one: most of a chapter is read before its
// explorer, and many visits never reach it. Pages without widgets never get this script (myst-nb adds it only where
// a notebook stored widget state). The manager renders every widget on the page once it has loaded.
(function () {
  var VIEWS = 'script[type="application/vnd.jupyter.widget-view+json"]';
  var loaded = false;
  function loadManager() {
    if (loaded) { return; }
    loaded = true;
    var root = document.documentElement.getAttribute("data-content_root") || "./";
    var script = document.createElement("script");
    script.src = root + "_static/vendor/html-manager/embed-amd.js";
    script.setAttribute("data-jupyter-widgets-cdn", "_static/vendor/");
    document.head.appendChild(script);
  }
  function watch() {
    var views = Array.prototype.map.call(document.querySelectorAll(VIEWS), function (s) { return s.parentElement; });
    if (!views.length) { return; }
    if (!("IntersectionObserver" in window)) { loadManager(); return; }
    // start about two screens ahead, so an explorer is drawn by the time the reader scrolls to it
    var observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { observer.disconnect(); loadManager(); }
    }, { rootMargin: "200% 0px 200% 0px" });
    views.forEach(function (v) { if (v) { observer.observe(v); } });
    window.addEventListener("beforeprint", loadManager);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", watch); } else { watch(); }
})();
