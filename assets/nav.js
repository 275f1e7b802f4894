// The phone's navigation row scrolls sideways when its links do not fit (assets/20-returning.css): when the
// current page changes, its link is scrolled into that row's view, so a shopper on Map or Trends sees where
// they are. Only on a change of page or of the window's width: a shopper's own sideways scroll is left alone.
(function () {
    let shown = null;  // the link last scrolled into view

    function reveal() {
        const nav = document.querySelector(".nav-main");
        const active = nav && nav.querySelector(".nav-link.active");
        if (!active || active === shown) { return; }
        shown = active;
        const row = nav.getBoundingClientRect(), link = active.getBoundingClientRect();
        if (link.left < row.left || link.right > row.right) {  // centred in the row; sideways only, the page stays put
            nav.scrollLeft += link.left - row.left - (row.width - link.width) / 2;
        }
    }

    window.addEventListener("resize", function () { shown = null; reveal(); });  // a phone turned, a window narrowed
    new MutationObserver(reveal).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["class"],
    });
})();
