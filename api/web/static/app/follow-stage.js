// Follows a record-level upload while it is checked: asks for the page again every few seconds and shows the
// new one as soon as its stage changes. A static file, so the page's policy needs no inline script; without
// JavaScript the page refreshes itself (a <meta> refresh inside <noscript>).
const root = document.querySelector('[data-follow-stage]')
if (root) {
  const shown = root.dataset.followStage
  const started = Date.now()
  const look = async () => {
    try {
      const response = await fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store' })
      if (response.ok) {
        const next = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('#stage')
        if (next && next.dataset.stage !== shown) {
          window.location.reload()
          return
        }
      }
    } catch (error) {
      // A lost connection is tried again at the next look.
    }
    // Every 2 seconds at first, then less often; after ten minutes the "Check again" link is left to the reader.
    const waited = Date.now() - started
    if (waited < 600000) window.setTimeout(look, waited < 30000 ? 2000 : 10000)
  }
  window.setTimeout(look, 2000)
}
