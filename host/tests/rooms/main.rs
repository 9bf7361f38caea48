//! Live rooms through real WebSocket clients and HTTP against a server on port 0:
//! join, chat, likes, plugins unlocking coupons, claim races, resume, limits and denials,
//! the REST API, and the operator API.

mod abuse;
mod admin;
mod api;
mod bodies;
mod guests;
mod harness;
mod images;
mod languages;
mod lease;
mod lives;
mod longpoll;
mod operator;
mod ops;
mod pages;
mod skus;
mod ws;
