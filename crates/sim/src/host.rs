//! A simulated host running an oxtcp stack and one application on it.

use oxtcp_core::{Event, Instant, Stack};

use crate::node::Node;

/// An application driving a stack through its user calls (connect, send, recv, close, ...).
pub trait App {
    /// Called once the host has processed an input (a packet or a timeout), and at start.
    fn on_event(&mut self, stack: &mut Stack, now: Instant);
    /// When the application itself next wants `on_event` (for example: close at 5 s).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// A host: a stack, its application, and the trace events collected from the stack.
pub struct StackHost<A> {
    /// The protocol stack.
    pub stack: Stack,
    /// The application.
    pub app: A,
    /// Trace events drained from the stack, in order (when the stack's trace is enabled).
    pub events: Vec<Event>,
    started: bool,
}

impl<A: App> StackHost<A> {
    /// A host running `app` on `stack`.
    pub fn new(stack: Stack, app: A) -> Self {
        StackHost {
            stack,
            app,
            events: Vec::new(),
            started: false,
        }
    }

    fn run_app(&mut self, now: Instant) {
        self.started = true;
        self.app.on_event(&mut self.stack, now);
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.stack.poll_event() {
            self.events.push(e);
        }
    }
}

impl<A: App> Node for StackHost<A> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stack.handle_packet(now, packet);
        self.run_app(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let n = self.stack.poll_transmit(now, buf);
        self.drain_events();
        n
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if !self.started {
            return Some(Instant::ZERO);
        }
        match (self.stack.poll_timeout(), self.app.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.run_app(now);
    }
}
