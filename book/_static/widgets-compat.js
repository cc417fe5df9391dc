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

  installMathJaxShim();
  document.addEventListener("DOMContentLoaded", function () {
    installMathJaxShim();
    nameSliderHandles();
    new MutationObserver(function () { nameSliderHandles(); })
      .observe(document.body, { childList: true, subtree: true });
  });
  window.addEventListener("load", installMathJaxShim);
})();
