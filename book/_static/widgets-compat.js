// Small compatibility fixes for the Jupyter widgets that the explorers embed in the static site.
(function () {
  // 1. The widget manager (ipywidgets 8 embed) typesets widget labels with the MathJax 2 API,
  //    `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`; this site serves MathJax 3.
  //    Map that one call onto MathJax 3 so labels are typeset and no page error is thrown.
  function installMathJaxShim() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) { return; }
    mj.Hub = {
      Queue: function (command) {
        var element = command && command[2];
        var run = function () {
          if (window.MathJax && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise(element ? [element] : undefined).catch(function () {});
          }
        };
        if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
          window.MathJax.startup.promise.then(run);
        } else {
          run();
        }
      }
    };
  }

  // 2. A slider widget's visible label is not tied to its keyboard handle (role="slider"), so screen
  //    readers announce an unnamed slider. Name each handle after its widget's label.
  function nameSliderHandles(root) {
    (root || document).querySelectorAll(".widget-slider").forEach(function (slider) {
      var label = slider.querySelector(".widget-label");
      var text = label ? label.textContent.trim() : "";
      slider.querySelectorAll(".noUi-handle").forEach(function (handle) {
        if (!handle.getAttribute("aria-label")) { handle.setAttribute("aria-label", text || "slider"); }
      });
    });
  }

  // 3. The theme makes a code cell or output that scrolls keyboard-focusable (tabindex 0) when the DOM is ready,
  //    on resize and when the page's content changes — but not when stylesheets or fonts finish loading later and
  //    only then make a cell wider than its column. Check again at those moments, so that every scrollable cell
  //    can be scrolled from the keyboard (axe-core: scrollable-region-focusable).
  var SCROLLABLE = ["pre", ".nboutput > .output_area", ".cell_output > .output", ".jp-RenderedHTMLCommon",
                    ".pst-scrollable-table-container"].join(", ");
  function updateTabStops() {
    document.querySelectorAll(SCROLLABLE).forEach(function (el) {
      if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight) { el.tabIndex = 0; }
    });
  }

  installMathJaxShim();
  window.addEventListener("load", updateTabStops);
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(updateTabStops); }
  document.addEventListener("DOMContentLoaded", function () {
    installMathJaxShim();
    nameSliderHandles();
    new MutationObserver(function () { nameSliderHandles(); })
      .observe(document.body, { childList: true, subtree: true });
  });
  window.addEventListener("load", installMathJaxShim);
})();
