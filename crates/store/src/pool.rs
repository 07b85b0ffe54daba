//! A small blocking connection pool: yanglao needs only "give me a connection, take it back".

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};

use crate::Result;

type Factory<C> = Box<dyn Fn() -> Result<C> + Send + Sync>;

pub struct Pool<C> {
    idle: Mutex<(Vec<C>, usize)>,
    available: Condvar,
    make: Factory<C>,
    max: usize,
}

impl<C> Pool<C> {
    pub fn new(max: usize, make: Factory<C>) -> Self {
        Pool {
            idle: Mutex::new((Vec::new(), 0)),
            available: Condvar::new(),
            make,
            max: max.max(1),
        }
    }

    pub fn get(&self) -> Result<Pooled<'_, C>> {
        let mut guard = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(c) = guard.0.pop() {
                return Ok(Pooled {
                    conn: Some(c),
                    pool: self,
                });
            }
            if guard.1 < self.max {
                guard.1 += 1;
                drop(guard);
                return match (self.make)() {
                    Ok(c) => Ok(Pooled {
                        conn: Some(c),
                        pool: self,
                    }),
                    Err(e) => {
                        let mut g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                        g.1 -= 1;
                        Err(e)
                    }
                };
            }
            guard = self.available.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn put(&self, c: Option<C>) {
        let mut g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        match c {
            Some(c) => g.0.push(c),
            None => g.1 -= 1,
        }
        self.available.notify_one();
    }
}

/// A connection on loan; returned to the pool when dropped. `discard` drops a broken one.
pub struct Pooled<'a, C> {
    conn: Option<C>,
    pool: &'a Pool<C>,
}

impl<C> Pooled<'_, C> {
    pub fn discard(mut self) {
        self.conn = None;
    }
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().unwrap_or_else(|| unreachable!("connection taken"))
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("connection taken"))
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        self.pool.put(self.conn.take());
    }
}
