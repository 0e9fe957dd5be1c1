// Starts ReDoc on /redoc with this response's nonce, which its styled-components put on the styles they write.
const root = document.getElementById('redoc')
Redoc.init(root.dataset.spec, { nonce: root.dataset.nonce }, root)
