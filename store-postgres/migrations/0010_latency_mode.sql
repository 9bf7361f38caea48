-- How viewers play a room's live ('standard': LL-DASH, 'ultra-low': WebRTC).
ALTER TABLE rooms ADD COLUMN latency_mode TEXT NOT NULL DEFAULT 'standard';
