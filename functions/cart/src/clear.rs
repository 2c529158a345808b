//! Clearing what was bought from the cart (the `cart-clear` queue,
//! OrderConfirmed): the order's products leave the shopper's cart once the
//! order is confirmed, not at checkout, so a failed order leaves the cart as
//! it was for another try. Only lines unchanged since the order was placed
//! are removed: what the shopper put in the cart after checking out stays,
//! and a redelivered event does not take it away either.

use std::time::SystemTime;

use astroshop_domain::ProductId;
use astroshop_domain::events::OrderConfirmed;
use astroshop_saga::{Delivery, StepError};
use astroshop_store::CartStore;

/// Removes a confirmed order's products from the cart it was placed from.
pub async fn clear_ordered_lines(carts: &impl CartStore, delivery: Delivery) -> Result<(), StepError> {
    let confirmed: OrderConfirmed = delivery.expect()?;
    let order = confirmed.order;
    let placed_at: SystemTime = order.placed_at.time().into();
    let products: Vec<ProductId> = order.lines().into_iter().map(|line| line.product_id).collect();
    let removed = carts
        .remove_lines_unchanged_since(&order.user_id, &products, placed_at)
        .await?;
    tracing::info!(
        removed,
        ordered = order.items.len(),
        "ordered lines cleared from the cart"
    );
    Ok(())
}
