// Run in the page by test_accessibility.py (page.evaluate): lists what breaks
// WCAG AA on the current screen — missing landmarks, controls without labels,
// images without alt text, text below the contrast minimum — as plain strings.
() => {
  const problems = [];
  const visible = (el) => {
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return rect.width > 1 && rect.height > 1 && style.visibility !== "hidden" && style.display !== "none";
  };
  const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`;

  for (const selector of ["header", "main", "footer"]) {
    if (!document.querySelector(selector)) problems.push(`no <${selector}> landmark`);
  }
  const nav = document.querySelector("nav");
  if (nav && !nav.hidden && !nav.getAttribute("aria-label")) problems.push("nav without a label");

  for (const control of document.querySelectorAll("input, select, textarea")) {
    if (control.type === "hidden" || !visible(control)) continue;
    const labelled = control.labels?.length || control.getAttribute("aria-label") || control.getAttribute("aria-labelledby");
    if (!labelled) problems.push(`control without a label: ${describe(control)}`);
  }
  for (const button of document.querySelectorAll("button, a[href]")) {
    if (!visible(button)) continue;
    const name = (button.getAttribute("aria-label") || button.textContent || "").trim();
    if (!name) problems.push(`control without a name: ${describe(button)}`);
  }
  for (const image of document.querySelectorAll("img")) {
    if (!image.hasAttribute("alt")) problems.push(`image without alt: ${image.src}`);
  }

  const parse = (value) => {
    const match = value.match(/rgba?\(([^)]+)\)/);
    if (!match) return null;
    const [r, g, b, a = 1] = match[1].split(",").map((part) => Number.parseFloat(part));
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const channel = (c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const blend = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour.a > 0) {
        layers.push(colour);
        if (colour.a >= 1) break;
      }
    }
    let result = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) result = blend(layer, result);
    return result;
  };

  for (const el of document.querySelectorAll("body *")) {
    const hasText = [...el.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
    if (!hasText || !visible(el) || el.closest(".visually-hidden, :disabled, [aria-disabled='true']")) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const text = blend(fg, bg);
    const [light, dark] = [luminance(text), luminance(bg)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = Number.parseFloat(style.fontSize);
    const bold = Number.parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const minimum = large ? 3 : 4.5;
    if (ratio < minimum) {
      problems.push(`contrast ${ratio.toFixed(2)} < ${minimum}: ${describe(el)} "${el.textContent.trim().slice(0, 40)}"`);
    }
  }
  return problems;
}
