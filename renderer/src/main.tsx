import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { ConnectionContext, connect } from './api/client.js';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ConnectionContext.Provider value={connect()}>
      <App />
    </ConnectionContext.Provider>
  </StrictMode>,
);
