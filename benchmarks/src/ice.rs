//! iceoryx2 publish-subscribe as dbshm's nearest peer: a slice service that
//! keeps the latest sample (history 1, a subscriber buffer of 1 that
//! overflows), a publisher that loans a slice and copies the frame into it,
//! and a subscriber that copies the sample out.

use std::fmt::Debug;

use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;

pub type Error = Box<dyn std::error::Error>;

/// The element types iceoryx2 can carry; blanket so that the harness's
/// generic code needs one bound whether or not iceoryx2 is built.
pub trait IceElem: ZeroCopySend + Debug + Copy + 'static {}
impl<T: ZeroCopySend + Debug + Copy + 'static> IceElem for T {}

/// The writer's side: the node, the service and its publisher.
pub struct IcePub<T: IceElem> {
    publisher: Publisher<ipc::Service, [T], ()>,
    _service:
        iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, [T], ()>,
    _node: Node<ipc::Service>,
}

/// The reader's side.
pub struct IceSub<T: IceElem> {
    subscriber: Subscriber<ipc::Service, [T], ()>,
    _service:
        iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, [T], ()>,
    _node: Node<ipc::Service>,
}

fn node() -> Result<Node<ipc::Service>, Error> {
    // iceoryx2 logs at info level by default; its log would interleave with
    // the harness's report.
    set_log_level(LogLevel::Error);
    Ok(NodeBuilder::new().create::<ipc::Service>()?)
}

impl<T: IceElem> IcePub<T> {
    /// Creates the service `name` for frames of `len` elements, for up to
    /// `subscribers` subscribers.
    pub fn create(name: &str, len: usize, subscribers: usize) -> Result<IcePub<T>, Error> {
        let node = node()?;
        let service = node
            .service_builder(&name.try_into()?)
            .publish_subscribe::<[T]>()
            .history_size(1)
            .subscriber_max_buffer_size(1)
            .subscriber_max_borrowed_samples(1)
            .enable_safe_overflow(true)
            .max_publishers(1)
            .max_subscribers(subscribers)
            .create()?;
        let publisher = service
            .publisher_builder()
            .initial_max_slice_len(len)
            .max_loaned_samples(1)
            .create()?;
        Ok(IcePub {
            publisher,
            _service: service,
            _node: node,
        })
    }

    /// Loans a slice, copies `frame` into it and sends it.
    pub fn send(&self, frame: &[T]) -> Result<(), Error> {
        let sample = self.publisher.loan_slice_uninit(frame.len())?;
        sample.write_from_slice(frame).send()?;
        Ok(())
    }

    /// Connects subscribers that arrived since the last send.
    pub fn connect(&self) -> Result<(), Error> {
        self.publisher.update_connections()?;
        Ok(())
    }
}

impl<T: IceElem> IceSub<T> {
    pub fn open(name: &str) -> Result<IceSub<T>, Error> {
        let node = node()?;
        let service = node
            .service_builder(&name.try_into()?)
            .publish_subscribe::<[T]>()
            .open()?;
        let subscriber = service.subscriber_builder().buffer_size(1).create()?;
        Ok(IceSub {
            subscriber,
            _service: service,
            _node: node,
        })
    }

    /// Hands `look` the newest sample in place, as iceoryx2 loans it, no
    /// copy; false when none has arrived.
    pub fn receive_with(&self, look: impl FnOnce(&[T])) -> Result<bool, Error> {
        match self.subscriber.receive()? {
            Some(sample) => {
                look(sample.payload());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Copies the newest sample into `out`; false when none has arrived.
    pub fn receive_into(&self, out: &mut [T]) -> Result<bool, Error> {
        match self.subscriber.receive()? {
            Some(sample) => {
                out.copy_from_slice(sample.payload());
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
