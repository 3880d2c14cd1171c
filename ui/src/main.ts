import 'uplot/dist/uPlot.min.css';
import './app.css';
import { html, render } from 'htm/preact';
import { App } from './app.js';
import { Store } from './store.js';

const store = new Store();
const root = document.getElementById('app') as HTMLElement;
root.textContent = '';
render(html`<${App} store=${store} />`, root);
store.start();
