import { useEffect } from 'react'

/** The tab's title: the page's name, then the product's. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Voxie` : 'Voxie'
  }, [title])
}
