//! Clearing what was bought from the cart (the `cart-clear` queue,
//! OrderConfirmed): the order's products leave the shopper's cart once the
//! order is confirmed, not at checkout, so a failed order leaves the cart as
//! it was for another try. A line the shopper added to after checking out
//! stays, as it holds more than was ordered.

use astroshop_domain::events::OrderConfirmed;
use astroshop_saga::{Delivery, Unreadable};
use astroshop_store::{CartStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ClearError {
    #[error("cart-clear clears carts on OrderConfirmed events only, not {0}")]
    UnexpectedEvent(String),
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error("carts: {0}")]
    Store(#[from] StoreError),
}

/// Removes a confirmed order's products from the cart it was placed from.
pub async fn clear_ordered_lines(carts: &impl CartStore, delivery: Delivery) -> Result<(), ClearError> {
    if !delivery.is::<OrderConfirmed>() {
        return Err(ClearError::UnexpectedEvent(delivery.detail_type));
    }
    let confirmed: OrderConfirmed = delivery.parse()?;
    let order = confirmed.order;
    let removed = carts.remove_ordered_lines(&order.user_id, &order.lines()).await?;
    tracing::info!(
        removed,
        ordered = order.items.len(),
        "ordered lines cleared from the cart"
    );
    Ok(())
}
