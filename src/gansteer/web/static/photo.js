// Start from an uploaded photo (web/photo.py): the server inverts it; its latent then replaces the seed in every
// render until a seed is chosen again. Shown only when the app includes the photo router.
"use strict";

(async () => {
  const $ = (id) => document.getElementById(id);
  const meta = await fetch("/api/photo").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!meta) return;
  $("photo-row").hidden = false;
  const input = $("photo");
  const say = (text, isError = false) => {
    $("photo-status").textContent = text;
    $("photo-status").classList.toggle("error", isError);
  };
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const ex = window.explorer;
    const form = new FormData();
    form.append("photo", file);
    if (ex.state.cls !== null) form.append("class", String(ex.state.cls));
    input.disabled = true;
    say(`inverting ${file.name} (${meta.steps} steps${meta.encoder ? ", encoder" : ""})…`);
    try {
      const r = await fetch("/api/photo", { method: "POST", body: form });
      const out = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
      if (!r.ok) { say(out.error || `${r.status}`, true); return; }
      ex.state.latent = out.latent;
      $("photo-target").src = out.target;
      $("photo-target").hidden = false;
      say(`${out.name}: PSNR ${out.psnr} dB in ${out.seconds} s — choose a seed to leave the photo`);
      ex.requestRender();
      document.dispatchEvent(new CustomEvent("explorer:photo", { detail: out }));
    } catch (e) {
      say(`upload failed: ${e}`, true);
    } finally {
      input.disabled = false;
      input.value = "";
    }
  });
})();
