/* The search page: excerpts as text, and excerpts on a copy of the site opened from disk (file://).
 *
 * Math as text. Sphinx's search page shows under each result an excerpt of the page's text, which holds the TeX
 * source of its math ("\(W_1^{(t)} = U_1\Sigma_1^{(t)}V_1^T\)"). Before the excerpt is cut, each piece of math is
 * replaced by a plain-text reading of it (`plainMath`: "W₁⁽ᵗ⁾ = U₁Σ₁⁽ᵗ⁾V₁ᵀ"), and so are any delimited math left
 * in the results' titles.
 *
 * Offline. Sphinx's search page fetches each result's page to show an excerpt around the match; a browser
 * refuses fetch() for file:// addresses, so offline every result would come without one. The build writes every
 * page's article text into _static/offline-pages.js (book/_ext/offline_site.py); on a file:// search page this
 * script loads it with a <script> tag, which browsers allow, and answers those fetches from it. Served over
 * http(s), that part does nothing.
 */
const plainMath = (() => {
  const symbols = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η", theta: "θ",
    kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ",
    psi: "ψ", omega: "ω", xi: "ξ", zeta: "ζ", chi: "χ", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ",
    Sigma: "Σ", Pi: "Π", Phi: "Φ", Psi: "Ψ", Omega: "Ω", Xi: "Ξ", ell: "ℓ", infty: "∞", partial: "∂",
    nabla: "∇", sum: "∑", prod: "∏", int: "∫", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    approx: "≈", sim: "∼", propto: "∝", equiv: "≡", in: "∈", notin: "∉", subset: "⊂", subseteq: "⊆", cup: "∪",
    cap: "∩", times: "×", cdot: "·", circ: "∘", otimes: "⊗", pm: "±", mp: "∓", to: "→", rightarrow: "→",
    leftarrow: "←", Rightarrow: "⇒", Leftrightarrow: "⇔", mapsto: "↦", iff: "⇔", implies: "⇒", forall: "∀",
    exists: "∃", neg: "¬", land: "∧", lor: "∨", cdots: "⋯", ldots: "…", dots: "…", vdots: "⋮", ddots: "⋱",
    lVert: "‖", rVert: "‖", Vert: "‖", "|": "‖", lvert: "|", rvert: "|", vert: "|", langle: "⟨", rangle: "⟩",
    top: "ᵀ", perp: "⊥", star: "⋆", ast: "∗", emptyset: "∅", setminus: "∖", dagger: "†", prime: "′",
    "{": "{", "}": "}", "%": "%", "&": "&", "#": "#", _: "_", ",": " ", ";": " ", ":": " ", "!": "",
    " ": " ", quad: " ", qquad: " ", min: "min", max: "max", log: "log", exp: "exp", sin: "sin", cos: "cos",
    det: "det", tr: "tr", rank: "rank", sup: "sup", inf: "inf", lim: "lim", arg: "arg",
  };
  const dropped = new Set([
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "displaystyle", "textstyle",
    "nolimits", "limits", "mathrm", "mathit", "mathbf", "boldsymbol", "bm", "text", "textrm", "textit",
    "textbf", "operatorname", "mathsf", "mathtt", "mathcal", "hat", "tilde", "bar", "overline", "vec", "widehat",
    "widetilde", "label", "tag", "nonumber", "notag",
  ]);
  const blackboard = { R: "ℝ", N: "ℕ", Z: "ℤ", Q: "ℚ", C: "ℂ", E: "𝔼", P: "ℙ" };
  const sub = { 0: "₀", 1: "₁", 2: "₂", 3: "₃", 4: "₄", 5: "₅", 6: "₆", 7: "₇", 8: "₈", 9: "₉", "+": "₊",
    "-": "₋", "=": "₌", "(": "₍", ")": "₎", a: "ₐ", e: "ₑ", i: "ᵢ", j: "ⱼ", k: "ₖ", l: "ₗ", m: "ₘ", n: "ₙ",
    o: "ₒ", p: "ₚ", r: "ᵣ", s: "ₛ", t: "ₜ", u: "ᵤ", v: "ᵥ", x: "ₓ" };
  const sup = { 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹", "+": "⁺",
    "-": "⁻", "−": "⁻", "=": "⁼", "(": "⁽", ")": "⁾", T: "ᵀ", a: "ᵃ", b: "ᵇ", c: "ᶜ", d: "ᵈ", e: "ᵉ", f: "ᶠ",
    g: "ᵍ", h: "ʰ", i: "ⁱ", j: "ʲ", k: "ᵏ", l: "ˡ", m: "ᵐ", n: "ⁿ", o: "ᵒ", p: "ᵖ", r: "ʳ", s: "ˢ", t: "ᵗ",
    u: "ᵘ", v: "ᵛ", w: "ʷ", x: "ˣ", y: "ʸ", z: "ᶻ", "ᵀ": "ᵀ", "*": "*", "′": "′" };
  // a group's text as sub- or superscript characters where every character has one, else _(...) or ^(...)
  const script = (text, table, mark) => {
    const chars = [...text.replace(/\s+/g, "")];
    if (chars.length && chars.every((c) => c in table)) return chars.map((c) => table[c]).join("");
    return chars.length === 1 ? mark + text : `${mark}(${text})`;
  };
  // read one argument at position i of s: a {group} or one (possibly escaped) character
  const argument = (s, i) => {
    while (s[i] === " ") i++;
    if (s[i] === "{") {
      let depth = 0;
      for (let j = i; j < s.length; j++) {
        if (s[j] === "{") depth++;
        else if (s[j] === "}" && --depth === 0) return [s.slice(i + 1, j), j + 1];
      }
      return [s.slice(i + 1), s.length];
    }
    if (s[i] === "\\") {
      const word = /^\\([A-Za-z]+|.)/.exec(s.slice(i));
      return [word[0], i + word[0].length];
    }
    return [s[i] || "", i + 1];
  };
  const convert = (s) => {
    let out = "";
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === "\\") {
        const word = /^\\([A-Za-z]+|.)/.exec(s.slice(i));
        const name = word ? word[1] : "";
        i += word ? word[0].length : 1;
        if (name === "frac" || name === "dfrac" || name === "tfrac") {
          const [a, j] = argument(s, i);
          const [b, k] = argument(s, j);
          const wrap = (t) => (t.length > 1 ? `(${t})` : t);
          out += `${wrap(convert(a))}/${wrap(convert(b))}`;
          i = k;
        } else if (name === "mathbb") {
          const [a, j] = argument(s, i);
          out += [...a].map((ch) => blackboard[ch] || ch).join("");
          i = j;
        } else if (name === "sqrt") {
          const [a, j] = argument(s, i);
          out += `√(${convert(a)})`;
          i = j;
        } else if (name === "begin" || name === "end") {
          i = argument(s, i)[1];
          out += " ";
        } else if (name in symbols) {
          out += symbols[name];
        } else if (!dropped.has(name) && name !== "\\") {
          out += name;
        } else if (name === "\\") {
          out += "; ";
        }
      } else if (c === "_" || c === "^") {
        const [a, j] = argument(s, i + 1);
        out += script(convert(a), c === "_" ? sub : sup, c);
        i = j;
      } else if (c === "{" || c === "}" || c === "&") {
        i++;
      } else if (c === "~") {
        out += " ";
        i++;
      } else {
        out += c;
        i++;
      }
    }
    return out;
  };
  const delimiters = /^\s*(?:\\\(|\\\[|\$\$?)([\s\S]*?)(?:\\\)|\\\]|\$\$?)\s*$/;
  return (tex) => {
    const inner = delimiters.exec(tex);
    return convert(inner ? inner[1] : tex).replace(/\s+/g, " ").trim();
  };
})();

(() => {
  if (typeof Search === "undefined" || !document.getElementById("search-results")) return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".math").forEach((e) => e.replaceWith(page.createTextNode(plainMath(e.textContent))));
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
  // titles (and anything else) in the results that still hold delimited math
  const delimited = /\\\(([\s\S]*?)\\\)|\\\[([\s\S]*?)\\\]|\$([^$]+)\$/g;
  const fix = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (delimited.test(node.data)) node.data = node.data.replace(delimited, (m) => plainMath(m));
      delimited.lastIndex = 0;
    }
  };
  new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => fix(n)))).observe(
    document.getElementById("search-results"),
    { childList: true, subtree: true },
  );
})();

(() => {
  if (window.location.protocol !== "file:" || !document.getElementById("search-results")) return;
  const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href).href;
  let pages = null;
  const load = () =>
    (pages ||= new Promise((resolve) => {
      const script = document.createElement("script");
      script.src = root + "_static/offline-pages.js";
      script.onload = () => resolve(window.DEEPLINEAR_OFFLINE_PAGES || {});
      script.onerror = () => resolve({});
      document.head.appendChild(script);
    }));
  const online = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const url = new URL(String(resource), window.location.href);
    if (url.protocol !== "file:" || !url.href.startsWith(root)) return online(resource, options);
    const page = decodeURIComponent(url.pathname).slice(decodeURIComponent(new URL(root).pathname).length);
    return load().then((texts) =>
      page in texts
        ? new Response(texts[page], { headers: { "Content-Type": "text/html" } })
        : Promise.reject(new TypeError(`${page} is not in the offline search excerpts`)),
    );
  };
})();
