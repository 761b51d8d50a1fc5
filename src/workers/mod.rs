pub mod dispatcher;
pub mod fanout;
pub mod webhooks;
