"""Callbacks that run in the browser: forwarding an upload, and focus and scrolling after a redraw."""

from __future__ import annotations

from recommender.ui import ids

__all__ = ["FORWARD_UPLOAD_JS", "AFTER_RENDER_JS", "REPLACE_URL_JS", "TOGGLE_FILTERS_JS"]

# A phone's "Filters and words" button folds and unfolds them (CSS shows them always on a wide screen).
TOGGLE_FILTERS_JS = """
function(_clicks, className) {
    const open = !(className || "").split(" ").includes("open");
    return [open ? "filters-body open" : "filters-body", open ? "true" : "false"];
}
"""

# "Show more" replaces the browser's history entry instead of adding one, so that Back leaves the search
# at once: the URL is replaced first, so dcc.Location, given the same fragment, pushes nothing.
REPLACE_URL_JS = """
function(fragment) {
    if (typeof fragment !== "string" || !fragment.startsWith("#")) { return window.dash_clientside.no_update; }
    window.history.replaceState(window.history.state, "", fragment);
    return fragment;
}
"""

# A file over the limit is refused before its bytes cross the network, and the upload is cleared so
# that choosing the same file again triggers a new upload: both the component's contents and the
# file input's own value (the browser fires no change event for the file the input already holds).
FORWARD_UPLOAD_JS = """
function(contents, cameraContents, filename, cameraFilename, maxBytes) {
    const fromCamera = window.dash_clientside.callback_context.triggered_id === "%(camera)s";
    const data = fromCamera ? cameraContents : contents;
    const name = fromCamera ? cameraFilename : filename;
    const nothing = window.dash_clientside.no_update;
    if (!data) { return [nothing, nothing, nothing]; }
    document.querySelectorAll("#%(upload)s input[type=file], #%(camera)s input[type=file]")
        .forEach(input => { input.value = ""; });
    const size = Math.floor((data.length - data.indexOf(",") - 1) * 3 / 4);
    const payload = size > maxBytes ? {filename: name, size: size} : {filename: name, contents: data};
    return [payload, null, null];
}
""" % {"upload": ids.UPLOAD, "camera": ids.UPLOAD_CAMERA}

# Once new results are drawn: focus goes where the action asked (the results' heading after "More
# like this" or a garment chosen, the first new card after "Show more"), scrolled to the top of the screen, or for
# a garment only where the heading is off the screen (with room below it for the first cards); otherwise, when
# the results start below the screen or above it under the sticky navbar (a phone, where they sit under the photo
# and the filters; a page that got shorter while scrolled), they are scrolled into view, but not when the page is
# first drawn: a shopper arriving starts at the top, with the upload. On a phone with a query the page goes back to
# its top, where the query's small picture (the title hidden, see the CSS) and the first results show together.
AFTER_RENDER_JS = """
function(_drawn, request, drawnBefore) {
    const key = request ? JSON.stringify(request) : null;
    window.requestAnimationFrame(() => {
        if (key && key !== window.__lookalikeFocus) {
            window.__lookalikeFocus = key;
            const target = document.getElementById(request.to);
            if (!target) { return; }
            target.focus({preventScroll: true});
            const navbar = document.querySelector(".shop-navbar");
            const top = target.getBoundingClientRect().top;  // "if-hidden": only when it is off the screen
            const below = navbar ? navbar.getBoundingClientRect().bottom : 0;
            const shown = top >= below && top <= window.innerHeight - 120;
            if (request.scroll !== "if-hidden" || !shown) { target.scrollIntoView({block: "start"}); }
            return;
        }
        if (window.matchMedia("(max-width: 991.98px)").matches && /(^#|&)s=/.test(window.location.hash)) {
            if (drawnBefore && window.scrollY > 0) { window.scrollTo(0, 0); }  // the photo's panel comes first
            return;
        }
        const anchor = document.getElementById("%(anchor)s");
        const navbar = document.querySelector(".shop-navbar");
        const below = navbar ? navbar.getBoundingClientRect().bottom : 0;
        const top = anchor ? anchor.getBoundingClientRect().top : 0;
        if (drawnBefore && anchor && (top > window.innerHeight * 0.8 || top < below)) {
            anchor.scrollIntoView({block: "start"});
        }
    });
    return true;
}
""" % {"anchor": ids.CRUMBS_AREA}
