# ruff: noqa: E501 - each message is one line as its writer wrote it, easier to read and review whole
"""Fraud reports and look-alike ordinary requests, written by hand, added to the intent training set.

The templates of `fraud_phrasings.py` were written by the same engineer as the first fraud probe
(`tests/data/fraud_probe.csv`), so they taught the intent head one writer's way of reporting
fraud: on a probe written by someone else the rule alerted 23 of 48 reports (docs/model.md).
These messages were written on 2026-12-05 by another helper who never saw either probe, as
customers write: several sentences, indirect ("money came out at a cash point while I was at
work"), asides, typos, no capitals. They cover what the templates did not: card details used
online or abroad while the card is in the wallet, phone and text-message scams where money was
then taken, SIM swaps and account takeovers, transfers the customer never made, a relative using
the card without asking, subscriptions never signed up for.

Each report is labelled with the watch-list intent of `fraud_intent` (`monitor/rules/default.yaml`)
that Banking77 itself uses for such a query; a transfer or an account takeover, which Banking77
has no intent of its own for, goes where its own queries put them ("someone is making
transactions on my account": `compromised_card`; "a payment I didn't make":
`card_payment_not_recognised`). The rule sums the five, so the split between them matters less
than that none is sent to an ordinary intent.

`ORDINARY` are hard negatives: requests that share the words of fraud (abroad, declined, cash
machine, a payment pending, a refund, a transfer gone missing, a direct debit) but report nothing
the customer did not do, each under its Banking77 intent, so the head does not learn "abroad" or
"cash machine" as fraud.

Every fifth message of each table is held out (`part="dev"`) to judge a head trained on the rest
(`monitor model train-intent` trains on the train part and reports the dev part). The train part
is in the shipped encoder and intent head since the fifth round (`continued.py`) and in the scope
head's in-scope texts since the fourth (`scope.py`); the intent head refitted on them alone was
not shipped (docs/model.md, "Fraud in other people's words").

`probe_messages` are seven spent probes' messages, written the same way by other helpers: since
the sixth round they are in scope for the scope head (`scope.py`). `situation_messages`, written in
the seventh about the situations the scope head still marked out of scope, are a source of its own.
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from typing import Literal

from monitor.model.training.variants import typos

Part = Literal["train", "dev", "all"]

FRAUD: dict[str, tuple[str, ...]] = {
    "cash_withdrawal_not_recognised": (
        "I was at work all day yesterday but my app says £250 was taken out at a cash machine in Croydon. My card is in my purse, I haven't lent it to anyone.",
        "theres 3 cash withdrawals on my account from last night, 100 each, I was asleep at home!! what is going on",
        "Hi, I've just checked my balance and it's gone down by 400 euros. It says ATM withdrawal in Porto. I have never been to Portugal in my life.",
        "money has come out of my account at a hole in the wall and it definitely wasnt me, I dont even use cash",
        "Can someone explain a cash withdrawal from Tuesday? I was in hospital that day and my card never left my bag.",
        "My statement shows somebody got 200 dollars out of an atm in a petrol station. I don't drive and I don't go there.",
        "There are two withdrawals from a cashpoint at the train station this morning. I was on holiday in Spain with my card, so how can that be?",
        "someone has been taking cash out with my card, 60 quid here and there over the past week. I only noticed because my rent bounced",
        "I have my card right here in my hand but the app says £500 was withdrawn in Birmingham an hour ago. Please freeze everything.",
        "my mum is 84 and her account shows cash taken out at machines all over town. she hasnt left the house in weeks. we think her carer has her card and pin",
        "The withdrawal of 300 at 2am isn't mine. I never take out that much and I was at home with my kids.",
        "i didnt take this money out. ATM in Manchester, 14:32 on Friday. I live in Glasgow and was at work. please help",
        "Hello, my balance is £180 less than it should be and the history shows a cash withdrawal I have no memory of making. Has someone copied my card?",
        "Looking at my transactions there's cash taken out abroad, in Romania. I'm sat in London reading this. What do I do now",
        "A cash withdrawal appeared on my account at a bank I don't use, in a town I've never visited. It's for 250 and I want it back.",
        "My son says he didn't do it and I certainly didn't, yet somebody withdrew 140 from our joint account at an atm near the station.",
        "weird, £20 came out of a cash machine at 4 in the morning. i was asleep. is my card cloned??",
        "Somebody emptied my account at a cash point. Four lots of 250 over two days. I still have my card, I've checked twice.",
        "i got a text from you saying cash withdrawl approved but i havent been near a cashpoint all week",
        "Why does my account show cash out in Amsterdam? I havent been out of the country since 2019.",
        "cash was taken from my account in the middle of the night using my card number at some machine, I had the card with me the whole time",
        "The app says I took out 80 pounds at Tesco yesterday. I wasn't there and I never use that cash machine.",
        "Please look at my last three withdrawals. Only the first one was me, the other two happened after I went to bed.",
        "My wallet was in my coat all evening but a withdrawal of 200 went through at a machine across the city at the same time.",
        "I think someone watched me type my pin, because the day after, money was drawn from an ATM that I never used.",
        "There's a withdrawl on my statement I don't recognise at all - 160 euro, in Berlin. I'm not in Germany.",
        "Someone took out cash on my account while I was on a plane. I landed and saw the notification. Its not me.",
        "I'm a student and my account is nearly empty after a cash withdrawal I didn't make. I need that money for rent, please help.",
        "cash withdrawal yesterday 23:50, not by me, i was at my sisters with my card in my pocket",
        "I havent withdrawn any money this month yet my app lists 2 ATM withdrawals. I don't know who did them.",
        "my balance was fine on friday, now its 300 down. the list says cash at a machine on the high street saturday night. i was at a wedding 50 miles away",
        "Somebody has been getting cash out of my account for the past few days, small amounts, always at night. I've been in bed. I'm frightened.",
        "I just had a notification saying I withdrew 100 dollars in Mexico. I'm in my kitchen in Bristol. That's not me!",
        "My elderly dad's account has had cash taken out every day this week and he can't walk to the shops. Someone has his card and PIN.",
        "I haven't used a cash point since the summer but three cash withdrawals showed up on my statement last month.",
    ),
    "card_payment_not_recognised": (
        "There's a payment to some shop called QSTORE LTD for £89.99 on my card. I've never heard of them and I didn't buy anything.",
        "why has my card been charged 45 dollars by a website I've never used? I want this looked at",
        "my teenage son used my card to buy stuff in a game without asking me. about £300 in total. can I get this back?",
        "My ex still had my card details and has been ordering takeaways on it. I never agreed to any of these payments.",
        "Hi, there are 5 small payments of 1.99 to something called APPS-SVC that I didn't make. Can you check what it is?",
        "I've been charged for a subscription I never signed up for, it comes out every month, 9.99, from a streaming site I don't use",
        "my card shows purchases at a shop in Paris this morning. Im in Leeds and the card is in my wallet",
        "Can you tell me who took £120 from my account on Sunday? It's a card payment to somewhere called MKT*DIGITAL, not me.",
        "I noticed payments on my card from an online clothing shop. I didn't order anything and nothing has arrived at my house.",
        "Somebody is spending on my card. There's petrol, a supermarket and an electronics shop this morning and I have been at home ill.",
        "My daughter borrowed my phone and bought things with my saved card without my permission. What can I do?",
        "there's a charge from an airline for 600 euros. I haven't booked any flights! please stop this",
        "i dont recognise a transaction on my card from yesterday, 34.50 to a place in another city. it wasnt me",
        "Payments keep appearing on my account that I haven't authorised - a phone shop, an online casino and a taxi. Block my card please.",
        "I signed up to nothing but a monthly charge of 14.99 from a dating website keeps taking money from my card.",
        "A payment I never made has gone through on my card, paid to a company abroad. I'm really worried someone has my details.",
        "some random charges on my credit card from a hotel in Dubai, never been. how did they get my card?",
        "My carer has been using my bank card for her own shopping, I found receipts. I never allowed her to.",
        "£1,200 went on my card at an electronics website last night. I was asleep, I didn't buy a laptop.",
        "hi, theres a payment to amazon i didnt make, 67.20. no order in my amazon account either",
        "Money was taken from my account by a transfer to a name I don't know. I didn't send it. Who did?",
        "There's an outgoing transfer of £2,000 to someone I've never heard of. I didn't make it and I can't cancel it in the app.",
        "My grandson used my card details to top up his gaming account, I didn't give him permission and I want the money back.",
        "I checked my statement and there are charges from a food delivery app, I don't even have that app.",
        "purchases in the US in dollars on my card, I'm in the UK and the card is with me. fraud??",
        "Hello I need help, a merchant I don't know has charged me 3 times this week. I never shopped with them.",
        "A free trial I never asked for turned into a yearly charge of £79 on my card. I never entered my card anywhere for it.",
        "someone bought train tickets with my card, I didnt travel anywhere, the tickets are for a journey in France",
        "There is a transaction from a petrol station 200 miles away. My card hasn't left my house.",
        "I didn't pay 250 to this online shop!! I've never been on their website, please reverse it",
        "My husband used my card without my knowledge while I was away and spent almost a thousand. It was not agreed.",
        "An unknown payment of 19.99 has been going out every month since March. I only just spotted it and I never agreed to it.",
        "A bank transfer went out of my account this morning to an account I've never paid before. It wasn't me who sent it.",
        "theres money gone from my account to a payee i never added. i didnt set this up. please stop it",
        "Somebody paid for an expensive meal in a restaurant with my card. I was at home all evening.",
        "I have some transactions in my app that I didn't do, all online, all in the last hour. I'm scared they'll keep going.",
        "I went abroad in August and paid for a few things there. Now I'm home and payments keep coming through from shops in that country. I'm not there anymore!",
        "Payments on my card from a website in another country in a currency I never use. The card never left my house.",
        "there are online orders on my card from a shop I dont know, someone must be using my number. I want them stopped and refunded",
        "A shop in Spain charged my card 400 euros this morning. I was in Spain last year, not this week.",
        "My card was used for a hotel booking in Thailand. I've never been to Asia, I'm in London and I've got the card with me.",
        "Small test payments of 1p and 50p, then a big one for £700. None of them were mine.",
        "My brother in law used my card when he stayed with us to buy himself a phone. I never said he could.",
    ),
    "compromised_card": (
        "I got a text saying it was from the bank and I clicked the link and put my card details in. Now I think it was a scam, what should I do?",
        "A man rang pretending to be from your fraud team. He knew my name and address so I gave him the code from my phone. Now £900 has gone from my account.",
        "my phone suddenly lost signal and now I can't get into my banking app. my partner says it sounds like a sim swap. there are transfers I don't know about",
        "Someone has got into my online banking. My email address has been changed and there's a new payee I didn't add.",
        "I bought something from a website that turned out to be fake. I gave them my card number and the code on the back. Is my card safe?",
        "My card is still in my wallet but somebody is using it online. They must have the number from somewhere.",
        "i got an email saying my account was locked, i logged in through the link and now i cant get in and money has moved",
        "I think my card was copied at a restaurant abroad. Since I got home there have been payments in Spain and Italy, and I have the card with me.",
        "I had a call from someone saying they were from the police and I needed to move my money to a safe account. I did it and now I think it was fraud.",
        "my details were in a hack at an online shop I use. should I be worried about my card? I've had some strange emails too",
        "Somebody knew my security answers and changed my phone number on the account. I never asked for that.",
        "I gave my card details to a man on the phone who said he was from my broadband company, now there are payments going out I don't know.",
        "The number on my card is being used to shop online but the card never left my purse. Please stop it and send me a new one.",
        "I left my card details saved on a laptop that was hacked and now there are odd payments. I want the card cancelled.",
        "got a whatsapp from someone pretending to be my daughter, said she lost her phone and needed money. I sent 1500 and then realised it wasnt her",
        "there was a strange message asking me to confirm a payment I didnt make, and then it went through anyway. has someone got my card info??",
        "I've just realised the cash machine I used had something stuck on the front of it. Could my card have been skimmed?",
        "Someone is logging into my account from another phone, I got an alert about a new device that isn't mine.",
        "I read out the numbers on my card to a caller who said my account was at risk. Afterwards I got worried. Can you block the card?",
        "Card details stolen I think. Payments in China on my card and I've never been there, the card is on my desk in front of me",
        "I got a text with a one time passcode for a purchase I wasn't making. Then another one. Someone must be trying to use my card.",
        "I was selling something online and the buyer sent me a link to get paid. I entered my card details and now money is missing.",
        "My phone was hacked and they got into my banking app and sent money to themselves. I need help urgently.",
        "A fake delivery text asked for a £1.45 redelivery fee. I paid it with my card and now there are big payments I didn't make.",
        "im worried my card has been compromised, I used it on a dodgy looking site and the next day there were charges in another currency",
        "Someone phoned claiming to be from the bank and asked me to read out the code you sent. After that two payments left my account.",
        "I can't log in any more and the password reset emails are going to an address that isn't mine. Somebody has taken over my account.",
        "my card got cloned on holiday. I'm back home now but it's still being used over there.",
        "I think the shop assistant copied my card, because the day after I used it there I got payments from places I've never been.",
        "I gave my pin and card number to someone who said they were investigating fraud at my branch. Now I'm worried it was a trick.",
        "my mobile number was moved to a new sim without me asking, then my savings were transferred out. I didnt authorise anything",
        "Somebody is using my card online even though I have it. I think my details were stolen when I booked a hotel.",
        "an app i downloaded asked for my card details and since then small amounts keep leaving my account",
        "A company I used said they'd had a data breach and customers' card numbers were taken. Mine was one of them, can you replace it?",
        "I fell for a scam. They said I'd won a prize and needed to pay postage, so I gave my card details. Now there are payments abroad.",
        "My account has been accessed by someone else, there are transfers to accounts I don't know and my contact details were changed.",
        "Got a call from 'the bank' saying there was fraud on my account and I had to confirm my card number and a code. I did. Now I think the call was the fraud.",
        "I clicked a link in a text about an unpaid parking fine and typed in my card details. I'm worried now.",
        "my card details were used on a website abroad but I still have the card, how do they have my number? please cancel it",
        "I think my online account was hacked. I didn't log in but there's a login from another country and a payment I didn't make.",
        "My phone number was ported to someone else without my permission and now I can't get the security codes. Money has already gone.",
    ),
    "lost_or_stolen_card": (
        "My handbag was taken from the back of my chair in a cafe and my card was in it. Please stop it before anyone uses it.",
        "I think I left my card in the machine at the petrol station and when I went back it was gone. Can you cancel it?",
        "Someone pinched my purse on the bus this morning. bank card, driving licence, everything.",
        "i cant find my card anywhere, i had it last night at the pub. i've turned the house upside down",
        "My wallet got nicked at the football yesterday. Card was in it, I need it blocked and a new one.",
        "Our house was broken into last night and they took my bag with my cards in it.",
        "I dropped my card somewhere between the shop and home. I've retraced my steps and it's not there.",
        "lost my card on holiday, no idea where, maybe at the beach. I'm still abroad for another week, what can I do",
        "I was mugged on the way home and they took my phone and my card. I'm OK but I need the card stopped.",
        "My card fell out of my pocket in a taxi. I called the taxi firm but they haven't found it.",
        "my car was broken into and my purse was on the seat with my debit card in it",
        "Think my card has been stolen at the gym, my locker was opened. Somebody has already tried to use it.",
        "I left my card in a bar on Saturday and it's gone. I'm worried someone has it.",
        "Hi, my son lost his card at school. Can you block it so nobody can spend on it?",
        "my card went missing after a night out and this morning I saw two contactless payments I didn't make",
        "My bag was stolen at the airport with my bank card inside. I'm travelling and I need help.",
        "I've misplaced my card, I can't remember where I used it last. Can I freeze it until I find it?",
        "Somebody took my card out of my coat while I was at a party. I only noticed the next morning.",
        "my card has vanished. it was in my phone case and now it isnt. please cancel it",
        "A pickpocket got my wallet on the underground. My bank card was in there.",
        "My post was stolen and I think my new card was in it, it never arrived but the app says it was activated.",
        "I lost my purse in the park walking the dog. The card is gone with it.",
        "I had my card stolen abroad and someone has already spent on it in shops I've never been to.",
        "card lost, maybe stolen. I need to stop it right now",
        "left my wallet on the train. the card was in it, please block",
    ),
    "direct_debit_payment_not_recognised": (
        "There's a direct debit going out every month to a company called Prime Health Plus. I never set this up and I don't know who they are.",
        "a new direct debit appeared on my account for £35 to an insurance company. I never signed anything",
        "Someone has set up a direct debit from my account to pay their phone bill. It's not my phone contract.",
        "I don't recognise a direct debit taken last week for 49.99. Please tell me who it is and stop it.",
        "My statement shows a direct debit to a gym I have never joined. I want my money back.",
        "somebody used my account details to set up a direct debit for a catalogue. i never ordered from them",
        "Two direct debits were taken this month to a utility company I'm not with. I didn't give them my details.",
        "Why is a charity taking a direct debit from me? I never agreed to donate to them.",
        "a company I've never dealt with is collecting money from my account every week by direct debit",
        "I keep seeing a direct debit to a loan company. I have never taken a loan out with them!",
        "My bank details must have been used by someone, there's a direct debit mandate on my account I didn't create.",
        "Direct debit to a TV licence that isn't mine, at an address I don't live at. Please cancel it.",
        "There's a monthly debit from my account to a mobile network I'm not with, it started in June. I never set it up.",
        "I noticed a direct debit I didn't authorise has been coming out for three months. £12.50 each time.",
        "hi there is a direct debit on my account i dont know about, its to a company with a long number, can you help",
        "A direct debit for council tax for a house I don't live in came out of my account. Someone else must have used my details.",
        "I've got a direct debit from a broadband firm and I've never had broadband with them, I want to dispute it.",
        "An unfamiliar direct debit took £60 this morning. I've not signed up to anything new recently.",
        "my account has a direct debit to a parking company, I don't have a car. who set this up?",
        "I found a direct debit to an online lottery on my account, I have never played it and I didn't agree to pay them.",
    ),
}
"""Fraud reports by the watch-list intent Banking77 gives such a query."""

ORDINARY: dict[str, tuple[str, ...]] = {
    "declined_card_payment": (
        "I'm on holiday in Greece and my card keeps getting declined in shops. I have money in my account, why?",
        "my card was declined at the supermarket today even though I have plenty in my account",
        "Tried to pay for dinner abroad and the card didn't go through. Is my card blocked for use overseas?",
        "why was my payment refused online? the card details are right and I have the balance",
        "My card got declined at a hotel in Italy. I'm stuck here, please tell me what's wrong.",
        "hi, I'm in Lisbon for work and my card got refused at the hotel desk this morning. there's over a grand in the account so I don't get it. I need to pay for the room today",
        "Every time I try to buy train tickets on the website my payment is declined. I've checked the card number three times and it's right.",
        "My card was turned down at a restaurant in New York last night, really embarassing. I told you I was travelling. Can you sort it?",
        "tried paying for petrol and it said declined, then it worked at the next station. whats going on with my card",
        "My payment to the online shop keeps failing. It says the bank declined it. I have enough money, please check.",
    ),
    "pending_card_payment": (
        "I paid for my shopping yesterday and it's still showing as pending. How long does that take?",
        "there's a payment I made to a hotel still pending after 4 days, when will it go through",
        "Why is my card payment at the petrol station still pending? I paid it on Monday.",
        "I bought a coat online and the payment is sitting as pending in the app. Is that normal?",
        "I paid for a hotel in Rome on Saturday and it's still sitting there as pending. It was me who paid, I just want to know when it'll clear.",
        "the £45 I spent at the garden centre yesterday is still pending and it's messing up my balance. how long do these take",
        "I booked flights for the family last week and the payment still hasn't gone through properly, the app shows it pending. Is something wrong?",
        "Hello, there is a card payment I made on Friday that's still not completed. Should I be worried or is it normal?",
    ),
    "card_swallowed": (
        "The cash machine kept my card! I was taking out money and it just didn't give it back.",
        "the atm at the station swallowed my card this morning, how do i get it back",
        "My card got stuck in the ATM abroad and the machine wouldn't return it. What now?",
        "The machine ate my card after I entered my pin, I didn't get cash either.",
        "went to get cash out in town and the machine just kept my card, didn't give me money or the card back. it's the one outside the post office",
        "Your ATM took my card this afternoon! I'm abroad on holiday and this is the only card I've got with me. What do I do?",
        "The cash machine at the supermarket swallowed my card after I put my pin in wrong twice. Can I get it back or do I need a new one?",
        "I was taking out 50 quid and the screen froze and the card never came out. The machine's still got it.",
    ),
    "request_refund": (
        "I bought some shoes online and sent them back. How do I get a refund to my card?",
        "I signed up for a trial myself and forgot to cancel, they charged me. Can I get the money back?",
        "I cancelled my order with the shop but I've still paid for it. How do I ask for my money back?",
        "I paid for a course that got cancelled, the company says I should ask my bank for a refund.",
        "I ordered a sofa three months ago, it never came and the company has now gone bust. I paid on my card. Is there any way to get the money back?",
        "I bought concert tickets with my card and the concert was cancelled, the organisers aren't answering. Can you get my money back?",
        "I paid a builder a deposit and he never turned up. I made the payment myself but I want to get it back, can the bank help?",
        "I accidentally bought the same thing twice online, how do I get a refund for one of them?",
        "i cancelled a gym membership i had and they charged me anyway for this month. how do i get that back",
    ),
    "refund_not_showing_up": (
        "The shop says they refunded me a week ago but I can't see the money in my account.",
        "i returned a dress and got a refund email but the money isnt back on my card yet",
        "A refund from the airline was supposed to arrive days ago. Where is it?",
        "I sent a jacket back to an online shop two weeks ago. They emailed to say the refund was done but there's nothing on my account yet.",
        "the hotel promised to put my deposit back on my card after I checked out. It's been 10 days and I still can't see it.",
        "Waiting on a refund from a shop, they say it's been sent, my app says nothing. How long should it take?",
    ),
    "transfer_not_received_by_recipient": (
        "I sent my landlord the rent on Friday and he says he still hasn't got it. The money has left my account.",
        "my friend hasnt received the money i transferred to her yesterday, where has it gone?",
        "I transferred 500 to my brother abroad and it hasn't arrived. Can you check?",
        "The payment I sent to the builder hasn't reached him, it's been three days.",
        "I paid my daughter's rent to her landlord on Monday and he keeps texting that he hasn't had it. It left my account straight away. Where is it?",
        "i sent 200 euros to my cousin in Poland from the app three days ago, it says completed but she hasnt got it",
        "The money I transferred to my solicitor for the house hasn't arrived according to them. It's a lot of money and I'm getting nervous.",
        "My friend says the money I sent for the holiday never showed up in her account. I have the confirmation. Can you trace it?",
    ),
    "pending_transfer": (
        "My transfer to my savings account says pending, I did it this morning. When will it complete?",
        "i sent money to my mum and it's still pending in the app",
        "I moved money to my other account this morning and its still pending. I need it there by tonight.",
        "Why is my transfer to my landlord still pending? I did it yesterday, normally it's instant.",
    ),
    "cancel_transfer": (
        "I just sent money to the wrong account by mistake, typed the number wrong. Can you stop it?",
        "I made a transfer a few minutes ago and I want to cancel it, I sent too much.",
        "I've just paid the wrong person! I meant to send it to my plumber but I picked an old payee. Can it be stopped?",
        "I sent £300 to my sister by mistake instead of £30. Can you cancel it before it goes through?",
    ),
    "transaction_charged_twice": (
        "I paid for my groceries once but the payment shows up twice on my statement.",
        "my gym direct debit came out twice this month, I only owe them once",
        "The restaurant charged my card twice for the same meal. I only paid once.",
        "I bought a coffee this morning and I've been charged for it twice. Only one coffee, I promise.",
        "The hotel took the payment for my stay twice. I paid once at check out and now there are two identical charges.",
        "my direct debit for the phone bill went out two times this month, same amount same day. I only owe it once",
    ),
    "extra_charge_on_statement": (
        "There's a small fee on my statement I don't understand. Is that a charge from you?",
        "What is this extra 1 pound charge on my account? I think it's a bank fee but I'm not sure.",
        "There's a £3 charge on my statement called 'service fee' and I don't know what it's for. Is that one of yours?",
        "I've noticed a small extra amount added to a payment I made at a shop abroad. Why would that be?",
    ),
    "wrong_amount_of_cash_received": (
        "I asked the ATM for 100 but only got 80. The app says 100 came out.",
        "the cash machine gave me less money than I asked for and my account was charged the full amount",
        "I asked for 200 at the machine and only got 180 out, but my account shows 200 gone. I counted it twice.",
        "The ATM gave me 40 instead of 60 this morning. The balance went down by 60. Can you fix this?",
    ),
    "pending_cash_withdrawal": (
        "I took out cash this morning and it's still showing as pending, is that normal?",
        "My cash withdrawal from yesterday hasn't cleared yet, it's marked pending.",
        "I took cash out at the airport before my flight and it still shows as pending two days later. It was me, I just want it sorted.",
        "is it normal for a cash withdrawal to still be pending? i got the money out yesterday afternoon",
    ),
    "cash_withdrawal_charge": (
        "I got charged a fee for taking money out at a cash machine abroad. Why is there a fee?",
        "why was I charged for withdrawing cash? I thought it was free",
        "I took out some money while I was in Spain and now I see a fee for it. I didn't know there would be a charge.",
        "Why did I get charged 2 pounds for using a cash machine? Never happened before.",
    ),
    "wrong_exchange_rate_for_cash_withdrawal": (
        "I withdrew euros on holiday and the exchange rate you used was much worse than the one online.",
    ),
    "card_payment_wrong_exchange_rate": (
        "I paid for a meal in Spain with my card and the rate you charged me looks wrong.",
        "the exchange rate on my card payment in dollars is different from what I expected",
        "I paid for dinner in Prague in korunas and the amount taken in pounds seems way too high for the rate.",
        "the exchange rate you gave me on my holiday shopping in the US was terrible compared to what google says",
    ),
    "declined_cash_withdrawal": (
        "The ATM wouldn't let me take out money today, it said declined. I have funds.",
        "My card was refused at the cash machine in France. Why can't I withdraw cash?",
        "I'm in Berlin and none of the cash machines will give me money with my card. It just says transaction declined.",
        "the atm at the station refused my card twice tonight. I have money in there. is my card blocked?",
    ),
    "card_not_working": (
        "My card doesn't work anymore, shops keep saying it's not reading.",
        "the chip on my card seems broken, nothing works with it",
        "My card just stopped working this week. Shops, online, nothing goes through. It's not expired.",
        "I'm abroad and my card isn't working anywhere, not even contactless. I've got money on it.",
    ),
    "lost_or_stolen_phone": (
        "My phone was stolen and it has the banking app on it. How do I stop someone using the app?",
        "I lost my phone on the train, I'm worried about my banking app. My card is still with me.",
        "Someone stole my phone at the bus stop. My banking app is on it but it has a passcode. My card is safe at home. What should I do about the app?",
        "I dropped my phone in the sea on holiday, how do I get back into my banking app on a new phone?",
    ),
    "card_linking": (
        "I found the card I reported lost last week down the back of the sofa. Can I use it again?",
        "I thought my card was lost but it turned up in my other jacket. How do I reactivate it?",
        "I called last week to say my card was lost but it was in my car all along. Can I still use it or is it cancelled?",
    ),
    "country_support": (
        "I'm going to Thailand next month, will my card work there?",
        "Can I use my account while I'm living abroad for a few months?",
        "We're moving to Spain next year. Can I keep my account and card when I live there?",
    ),
    "card_acceptance": (
        "Will shops in Japan accept my card?",
    ),
    "balance_not_updated_after_bank_transfer": (
        "I transferred money into my account from my other bank and the balance hasn't changed.",
        "My wages were paid in this morning, my employer says so, but my balance hasn't changed. When will it show?",
    ),
    "get_disposable_virtual_card": (
        "I want to buy something from a website I don't trust. Can I get a one-off card number so my real one is safe?",
        "I'm buying something from a small website for the first time and don't want to give my real card number. Can I get a one-time card?",
    ),
    "change_pin": (
        "I think someone might have seen my pin at the shop, how do I change it?",
        "I want to change my pin, I think my kids know it now. How do I do that in the app?",
    ),
    "top_up_failed": (
        "I tried to top up my account with my card and it failed. What went wrong?",
        "I tried to add money to my account from my other bank's card and it failed twice. I have money on that card.",
    ),
    "verify_my_identity": (
        "The app is asking me to verify my identity before I can send money, how do I do that?",
        "The app keeps asking me to take a selfie and a photo of my passport. Is this really you? How do I finish it?",
    ),
    "card_payment_fee_charged": (
        "Why was there a fee when I paid by card in a shop in France? I thought card payments abroad were free with you.",
    ),
    "contactless_not_working": (
        "contactless doesn't work on my card anymore, I have to put it in and use my pin every time",
    ),
    "card_arrival": (
        "I ordered a new card two weeks ago and it still hasn't come in the post. How long does it usually take?",
        "my replacement card hasn't arrived yet and I'm going on holiday on Friday, can you check where it is?",
    ),
    "activate_my_card": (
        "My new card came this morning, how do I activate it? I want to use it at the shops later.",
    ),
    "exchange_rate": (
        "What exchange rate do you give for euros? I'm going to France next week and want to know what I'll get.",
    ),
    "pin_blocked": (
        "I typed my pin wrong three times at the machine and now it says my pin is blocked. How do I unblock it?",
    ),
    "getting_spare_card": (
        "Can I get a second card for my husband to use on our account? He wants to do the food shopping.",
    ),
    "age_limit": (
        "My son is 14, can he have his own card with you so I can send him pocket money?",
    ),
    "pending_top_up": (
        "I topped up with my card an hour ago and its still pending, I need the money for the weekend",
    ),
    "terminate_account": (
        "I'd like to close my account please, I'm moving my money to another bank. What do I need to do?",
    ),
    "edit_personal_details": (
        "I've moved house and got a new phone number, how do I change them on my account?",
    ),
    "passcode_forgotten": (
        "I've forgotten the passcode for the app and I can't log in. How do I reset it?",
    ),
    "receiving_money": (
        "My friend wants to send me money from abroad, what details does she need?",
    ),
}
"""Ordinary requests in fraud's vocabulary, by their Banking77 intent (none on the watch list)."""


def _in_part(index: int, part: Part) -> bool:
    """Every fifth message of a table, counted through it in order, is dev; the rest train."""
    return part == "all" or (index % 5 == 4) == (part == "dev")


def written_messages(part: Part = "train", with_typos: bool = True) -> tuple[list[str], list[str]]:
    """(texts, intents): the fraud reports and the ordinary requests of `part`; with `with_typos`,
    each again with a few typos (`variants.typos`, seeded by the text), as customers type them."""
    chosen: list[tuple[str, str]] = []
    for table in (FRAUD, ORDINARY):
        rows = [(intent, text) for intent, written in table.items() for text in written]
        chosen += [row for index, row in enumerate(rows) if _in_part(index, part)]
    return _with_typos(chosen, with_typos)


def probe_messages(with_typos: bool = True) -> tuple[list[str], list[str]]:
    """(texts, intents): the 672 messages of seven spent fraud probes (`monitor/data/fraud_probes_written.csv`).

    Each probe was written by its own helper that opened no file of the project, to judge one round
    (docs/model.md); once its round was decided it could judge nothing more, so its 336 reports and
    336 ordinary messages (plain requests and look-alikes) became training data in the sixth round.
    Their writers gave no intent, only fraud or not: each carries the shipped English head's likeliest
    intent of its kind (a report its likeliest watch-list intent, any other message its likeliest
    intent off the list; the rule sums the watch list, so which of the five matters less)."""
    text = files("monitor").joinpath("data/fraud_probes_written.csv").read_text(encoding="utf-8")
    return _with_typos([(row["intent"], row["text"]) for row in csv.DictReader(io.StringIO(text))], with_typos)


def situation_messages(part: Part = "train", with_typos: bool = True) -> tuple[list[str], list[str]]:
    """(texts, labels `fraud` / `ordinary`): the 440 messages of `monitor/data/scope_situations_written.csv`.

    Written on 2026-12-06 by two helpers that opened no file of the project, about the situations in
    which the scope head marked fraud reports out of scope on the dev probes (docs/model.md, "seventh
    round"): SIM swaps told as phone trouble, accounts taken over, phishing (`phone_and_account`);
    card use told in travel words or with an odd merchant's name, standing orders and direct debits
    never set up, and the ordinary requests that share those words: travel, direct debits the
    customer manages, scams that failed (`travel_and_orders`). Every fifth message is dev, as in
    `written_messages`."""
    text = files("monitor").joinpath("data/scope_situations_written.csv").read_text(encoding="utf-8")
    rows = [(row["label"], row["text"]) for row in csv.DictReader(io.StringIO(text))]
    return _with_typos([row for index, row in enumerate(rows) if _in_part(index, part)], with_typos)


def _with_typos(rows: list[tuple[str, str]], with_typos: bool) -> tuple[list[str], list[str]]:
    """(texts, intents) of (intent, text) rows; with `with_typos`, each text followed by a copy with
    a few typos (`variants.typos`, seeded by the text) where that differs, as customers type them."""
    texts: list[str] = []
    labels: list[str] = []
    for intent, text in rows:
        for form in dict.fromkeys([text, typos(text)] if with_typos else [text]):
            texts.append(form)
            labels.append(intent)
    return texts, labels
