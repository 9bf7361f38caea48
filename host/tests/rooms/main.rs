//! Live rooms through real WebSocket clients and HTTP against a server on port 0:
//! join, chat, likes, plugins unlocking coupons, claim races, resume, limits and denials,
//! and the REST API.

mod abuse;
mod api;
mod harness;
mod longpoll;
mod pages;
mod ws;
