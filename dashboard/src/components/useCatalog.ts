import { loadCatalog } from '../lib/catalog'
import { useLoad } from './useApi'

/** The catalog (`GET /api/catalog`), read once per page load whichever form asks first. */
export function useCatalog() {
  // The read is shared: one form leaving the page must not abort another's, so no signal.
  return useLoad(() => loadCatalog(), [])
}
