/**
 * Light/dark theme: follows the system until the user picks one; the pick is kept in
 * localStorage. The effective theme is set as `data-theme` on <html>.
 */
import { ref } from 'vue'

export type ThemeChoice = 'system' | 'light' | 'dark'

const STORAGE_KEY = 'freechat.theme'

function stored(): ThemeChoice {
  try {
    const v = localStorage.getItem(STORAGE_KEY)
    return v === 'light' || v === 'dark' ? v : 'system'
  } catch {
    return 'system'
  }
}

export const themeChoice = ref<ThemeChoice>(stored())

const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null

function apply(): void {
  const dark = themeChoice.value === 'dark' || (themeChoice.value === 'system' && media?.matches === true)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
}

export function initTheme(): void {
  apply()
  media?.addEventListener('change', apply)
}

/** Cycles system -> light -> dark -> system. */
export function cycleTheme(): void {
  const next: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' }
  themeChoice.value = next[themeChoice.value]
  try {
    if (themeChoice.value === 'system') localStorage.removeItem(STORAGE_KEY)
    else localStorage.setItem(STORAGE_KEY, themeChoice.value)
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  apply()
}
