// Fixes to Dash components' markup that their properties cannot express, re-applied as React redraws them.
// - Upload inputs get a name ("Choose File" otherwise) and lose autocomplete="off", which file inputs
//   do not take; the phone's "Take a photo" input asks for the camera (dcc.Upload has no `capture`).
// - A filter dropdown is named by its label and then its value ("Category, Any category"), not by the
//   value alone; the search box of an open one is named for its filter ("Search the colours") and loses
//   autocomplete="off", which axe-core finds invalid on a search input.
// - Plotly's off-screen SVG for measuring text is hidden from screen readers (it is outside every landmark).
(function () {
    const UPLOAD_NAMES = {"upload": "Upload a photo to search by", "upload-camera": "Take a photo to search by"};

    function fix() {
        Object.keys(UPLOAD_NAMES).forEach(function (id) {
            const input = document.querySelector("#" + id + " input[type=file]");
            if (!input) { return; }
            if (input.getAttribute("aria-label") !== UPLOAD_NAMES[id]) { input.setAttribute("aria-label", UPLOAD_NAMES[id]); }
            if (input.hasAttribute("autocomplete")) { input.removeAttribute("autocomplete"); }
            if (id === "upload-camera" && !input.hasAttribute("capture")) { input.setAttribute("capture", "environment"); }
        });
        document.querySelectorAll("button.filter-dropdown[id]").forEach(function (button) {
            const label = button.id + "-label";
            const current = button.getAttribute("aria-labelledby") || "";
            if (document.getElementById(label) && current.split(" ")[0] !== label) {
                button.setAttribute("aria-labelledby", (label + " " + current).trim());
            }
        });
        const tester = document.getElementById("js-plotly-tester");
        if (tester && !tester.hasAttribute("aria-hidden")) { tester.setAttribute("aria-hidden", "true"); }
        const open = document.querySelector("button.filter-dropdown[aria-expanded=true]");
        const label = open && document.getElementById(open.id + "-label");
        document.querySelectorAll("input.dash-dropdown-search").forEach(function (input) {
            const name = "Search the " + (label ? label.textContent.toLowerCase() + " " : "") + "options";
            if (input.getAttribute("aria-label") !== name) { input.setAttribute("aria-label", name); }
            if (input.hasAttribute("autocomplete")) { input.removeAttribute("autocomplete"); }
        });
    }

    new MutationObserver(fix).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["aria-labelledby", "autocomplete", "aria-expanded"],
    });
})();
