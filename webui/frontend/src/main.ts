import { createApp } from 'vue'
import App from './App.vue'
import { locale, setLocale } from './lib/i18n'
import { initTheme } from './lib/theme'
import './style.css'

initTheme()
setLocale(locale.value)
createApp(App).mount('#app')
