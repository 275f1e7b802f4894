// The upload takes images only (accept="image/*,.heic,.heif", so that phones offer their camera), and
// its drop zone silently ignores any other file. A shopper who drops or picks a PDF should hear why
// nothing happens: the file's name goes to the page's upload callback, which answers in one sentence.
(function () {
    function isPicture(file) {
        return (file.type || "").startsWith("image/") || /\.(heic|heif)$/i.test(file.name || "");
    }

    function refuse(files, input) {
        const other = Array.from(files || []).find(function (file) { return !isPicture(file); });
        if (other && window.dash_clientside && window.dash_clientside.set_props) {
            // `at` makes a retry with the same file a new value, so the page answers it again
            window.dash_clientside.set_props("upload-payload", {data: {filename: other.name, rejected: true, at: Date.now()}});
            if (input) { setTimeout(function () { input.value = ""; }, 0); }  // choosing it again is a change
        }
    }

    document.addEventListener("drop", function (event) {
        if (event.target.closest && event.target.closest("#upload, #upload-camera")) {
            refuse(event.dataTransfer && event.dataTransfer.files);
        }
    }, true);
    document.addEventListener("change", function (event) {
        if (event.target.matches && event.target.matches("#upload input[type=file], #upload-camera input[type=file]")) {
            refuse(event.target.files, event.target);
        }
    }, true);
})();
