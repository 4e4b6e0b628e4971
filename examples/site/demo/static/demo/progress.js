// The sign-up's progress: poll the tenant's state until it is active or failed.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var state = document.getElementById("state");
  var signIn = document.getElementById("sign-in");

  function show(data) {
    box.dataset.status = data.status;
    if (data.status === "active") {
      box.querySelectorAll(".step").forEach(function (step) { step.classList.add("done"); });
      state.textContent = "Your workspace is ready.";
      signIn.classList.remove("hidden");
    } else if (data.status === "failed") {
      state.textContent = "Setting up failed: " + data.detail;
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.status === "provisioning") { window.setTimeout(poll, 400); }
      })
      .catch(function (error) {
        state.textContent = "Cannot read the progress (" + error.message + "); retrying…";
        window.setTimeout(poll, 1000);
      });
  }

  if (box.dataset.status === "active") {
    show({ status: "active" });
  } else if (box.dataset.status === "provisioning") {
    poll();
  }
})();
