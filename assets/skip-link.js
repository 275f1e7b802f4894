// The skip link moves focus to the page's content without touching the URL's fragment, which holds
// the shopper's search (a plain in-page link would replace it).
document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a.skip-link");
    if (!link) { return; }
    event.preventDefault();
    const results = document.getElementById("results-title") || document.getElementById("main-content");
    if (results) { results.focus(); results.scrollIntoView({block: "start"}); }
});
