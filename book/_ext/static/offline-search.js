/* Search excerpts on a copy of the site opened from disk (file://).
 *
 * Sphinx's search page fetches each result's page to show an excerpt around the match; a browser refuses
 * fetch() for file:// addresses, so offline every result would come without one. The build writes every
 * page's article text into _static/offline-pages.js (book/_ext/offline_site.py); on a file:// search page
 * this script loads it with a <script> tag, which browsers allow, and answers those fetches from it.
 * Served over http(s), it does nothing.
 */
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
