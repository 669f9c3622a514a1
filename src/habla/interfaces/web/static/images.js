// Images waiting to be sent: picked, pasted or dropped; checked (PNG, JPEG, WebP or GIF,
// at most 20 MB) and shown as thumbnails with a Remove button. Whether the chosen model
// can read them is asked of `canSee()`; problems go to `report(message)` in plain words.
// It sends nothing itself: `take()` hands the data: URLs to the message being sent.

import { $, el } from "./view.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export class Attachments {
  constructor({ canSee, report }) {
    this.canSee = canSee; // () => {id, vision}
    this.report = report;
    this.urls = [];
    $("attach").addEventListener("click", () => $("file").click());
    $("file").addEventListener("change", () => {
      for (const file of $("file").files) this.add(file);
      $("file").value = "";
    });
    $("prompt").addEventListener("paste", (event) => {
      const files = [...(event.clipboardData ? event.clipboardData.files : [])];
      if (files.length) {
        event.preventDefault();
        files.forEach((file) => this.add(file));
      }
    });
    $("chat").addEventListener("dragover", (event) => event.preventDefault());
    $("chat").addEventListener("drop", (event) => {
      event.preventDefault();
      for (const file of event.dataTransfer.files) this.add(file);
    });
  }

  get count() { return this.urls.length; }

  // True when there is nothing to object to; otherwise says why not and returns false.
  check() {
    const model = this.canSee();
    if (this.urls.length && model && !model.vision) {
      this.report(`The model ${model.id} reads text only and cannot see images. Pick a model marked “reads images”, or remove the image.`);
      return false;
    }
    if (this.urls.length) this.report("");
    return true;
  }

  add(file) {
    if (!IMAGE_TYPES.has(file.type)) {
      this.report(`“${file.name}” is not a PNG, JPEG, WebP or GIF image.`);
      return;
    }
    if (file.size > MAX_IMAGE_BYTES) {
      this.report(`“${file.name}” is larger than 20 MB.`);
      return;
    }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      this.urls.push(reader.result);
      this.draw();
      this.check();
    });
    reader.readAsDataURL(file);
  }

  take() {
    const urls = this.urls;
    this.urls = [];
    this.draw();
    return urls;
  }

  draw() {
    const nodes = this.urls.map((url, index) => {
      const wrap = el("div", "thumb");
      const img = el("img");
      img.src = url;
      img.alt = `image ${index + 1} to send`;
      const remove = el("button", "small", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove image ${index + 1}`);
      remove.addEventListener("click", () => {
        this.urls.splice(index, 1);
        this.draw();
        this.check();
        $("prompt").focus();
      });
      wrap.append(img, remove);
      return wrap;
    });
    $("attachments").replaceChildren(...nodes);
  }
}
