// viewer-missing.js — the page for a live room that does not exist (served with 404 at
// /live/{room} and /replay/{room}): its words in the viewer's language.

import { initLang, t, translateStatic } from './viewer-i18n.js';
import { fillIcons } from './viewer-icons.js';

initLang();
translateStatic();
fillIcons();
document.title = t('page.title', { title: t('missing.title') });
