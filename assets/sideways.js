// Rows that scroll sideways on a phone keep their current item in view: the navigation row's page link
// (assets/20-returning.css), so a shopper on Map or Trends sees where they are, and the "Shop the look" strip's
// group of the garment searched (assets/20-look.css), so its name says which results are below. Only when the
// current item changes, or the window's width: a shopper's own sideways scroll is left alone.
(function () {
    // [row, its current item, where the item goes]: the strip's group at the row's start, its name first, clear of
    // the fade there (10-shop.css: up to 2.5rem)
    const rows = [[".nav-main", ".nav-link.active", "centre"], [".look-groups", ".look-group-on", "start"]];
    const FADE_REM = 2.5;
    const shown = new Map();  // per row, the item last scrolled into view

    function reveal() {
        for (const [rowSelector, itemSelector, place] of rows) {
            const row = document.querySelector(rowSelector);
            const item = row && row.querySelector(itemSelector);
            if (!item || shown.get(rowSelector) === item) { continue; }
            shown.set(rowSelector, item);
            const box = row.getBoundingClientRect(), part = item.getBoundingClientRect();
            if (part.left < box.left || part.right > box.right) {  // sideways only, the page stays put
                const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
                row.scrollLeft += part.left - box.left
                    - (place === "start" ? FADE_REM * rem : (box.width - part.width) / 2);
            }
        }
    }

    let width = window.innerWidth;
    window.addEventListener("resize", function () {  // a phone turned, a window narrowed; not a phone's address bar
        if (window.innerWidth === width) { return; }  // hiding on a vertical scroll (its height alone changes)
        width = window.innerWidth;
        shown.clear();
        reveal();
    });
    new MutationObserver(reveal).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["class"],
    });
})();
