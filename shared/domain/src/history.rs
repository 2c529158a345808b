//! An order's history as the saga writes it: one line per step, the change a
//! step makes to the order (confirm, fail, flag, or none), and how the order
//! ended. The orders service decides which change an event makes; the
//! Orders table's adapter writes it.

use crate::events::{DomainEvent, OrderConfirmed, OrderFailed};
use crate::order::OrderStatus;
use crate::timestamp::Timestamp;

/// One line of an order's history: a saga step, when it happened, what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The event's detail-type, `InventoryReserved.v1`.
    pub detail_type: String,
    pub at: Timestamp,
    pub summary: String,
}

impl Step {
    /// The step's name as shown to shoppers: the detail-type without its version.
    pub fn name(&self) -> &str {
        self.detail_type
            .rsplit_once('.')
            .map_or(self.detail_type.as_str(), |(name, _)| name)
    }
}

/// What a step does to the order besides adding to its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    None,
    /// Shipped: the saga succeeded.
    Confirm {
        tracking_id: String,
    },
    /// Stock or payment failed, or the order got stuck: undo what was done.
    Fail {
        reason: String,
    },
    /// Fraud checks found it suspicious; the status stays.
    Flag,
}

impl Change {
    /// The status the change moves a `PENDING` order to; only a pending order
    /// can be confirmed or failed, and only once.
    pub fn new_status(&self) -> Option<OrderStatus> {
        match self {
            Self::Confirm { .. } => Some(OrderStatus::Confirmed),
            Self::Fail { .. } => Some(OrderStatus::Failed),
            Self::None | Self::Flag => None,
        }
    }

    /// How the change ends the order, if it does.
    pub fn ends_as(&self) -> Option<Conclusion> {
        match self {
            Self::Confirm { tracking_id } => Some(Conclusion::Confirmed {
                tracking_id: tracking_id.clone(),
            }),
            Self::Fail { reason } => Some(Conclusion::Failed {
                reason: reason.clone(),
            }),
            Self::None | Self::Flag => None,
        }
    }

    /// The history line of the order's own conclusion, written with the change.
    pub fn final_step(&self, at: &Timestamp) -> Option<Step> {
        let (detail_type, summary) = match self {
            Self::Confirm { tracking_id } => (
                OrderConfirmed::DETAIL_TYPE,
                format!("order confirmed; tracking id {tracking_id}"),
            ),
            Self::Fail { reason } => (OrderFailed::DETAIL_TYPE, format!("order failed: {reason}")),
            Self::None | Self::Flag => return None,
        };
        Some(Step {
            detail_type: detail_type.to_owned(),
            at: at.clone(),
            summary,
        })
    }
}

/// How an order ended, as its final event tells the rest of the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conclusion {
    Confirmed { tracking_id: String },
    Failed { reason: String },
}
