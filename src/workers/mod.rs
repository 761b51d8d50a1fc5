pub mod dispatcher;
pub mod webhooks;
